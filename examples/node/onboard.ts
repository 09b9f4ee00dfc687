// The automated onboarding flow with confirma-sdk, in TypeScript (type-checked by the test suite with
// `tsc --noEmit`). Same flow as onboard.mjs: create → store token → validate → renew.
//
//   node --experimental-strip-types onboard.ts <baseUrl> <provisioningToken> <partnerCode>   (Node ≥ 22.6)
//   or compile with tsc first.
import {
  ConfirmaError, ConflictError, OnboardingClient, OutcomeUnknownError, RateLimitError, SecretToken, ValidationError,
  type CreatedClient, type NewClient, type OnboardingClientOptions, type RenewedToken, type TokenStatus
} from 'confirma-sdk'

interface TokenStore {
  load(clientId: string): Promise<string | undefined>
  save(clientId: string, token: SecretToken, expiresAt: Date | null): Promise<void>
}

class MemoryStore implements TokenStore {
  readonly #tokens = new Map<string, string>()
  async load (clientId: string): Promise<string | undefined> { return this.#tokens.get(clientId) }
  async save (clientId: string, token: SecretToken, _expiresAt: Date | null): Promise<void> {
    this.#tokens.set(clientId, token.reveal())
  }
}

function randomBusinessId (): string {
  const weights = [7, 9, 10, 5, 8, 4, 2]
  for (;;) {
    const digits = String(1000000 + Math.floor(Math.random() * 8999999))
    const r = [...digits].reduce((s, d, i) => s + Number(d) * weights[i]!, 0) % 11
    if (r !== 1) return `${digits}-${r === 0 ? 0 : 11 - r}`
  }
}

async function onboard (client: OnboardingClient, provisioningToken: SecretToken, form: NewClient, store: TokenStore): Promise<CreatedClient | undefined> {
  try {
    // No AbortSignal here: aborting a create after it was sent leaves its outcome unknown; the client's
    // `totalTimeoutMs` bounds the call with a typed error instead.
    const created = await client.createClient(provisioningToken, form)
    await store.save(created.clientId, created.accessToken, created.tokenExpiresAt)
    return created
  } catch (err) {
    if (err instanceof ValidationError) {
      for (const [field, problems] of Object.entries(err.fieldErrors)) console.error(`${field}: ${problems.join('; ')}`)
    } else if (err instanceof ConflictError) {
      console.error('already onboarded: use the existing-client path')
    } else if (err instanceof OutcomeUnknownError && err.recoveredToken !== null) {
      // Created, but the answer lacked the client's ids: the recovered token is its only token — keep it.
      await store.save(`unidentified:${form.client.businessCode}`, err.recoveredToken, null)
      console.error('created, but the answer lacked the client ids: its token is stored; ask support for the ids')
    } else if (err instanceof OutcomeUnknownError) {
      console.error(`outcome unknown after ${err.cause.code}; check before repeating`)
    } else if (err instanceof RateLimitError) {
      console.error(`rate limited; retry after ${err.retryAfter ?? '?'} s`)
    } else if (err instanceof ConfirmaError) {
      console.error(`${err.code} (HTTP ${err.status ?? '-'}, request ${err.requestId ?? '-'}): ${err.message}`)
    } else {
      throw err
    }
    return undefined
  }
}

async function main (): Promise<number> {
  const [baseUrl = process.env.CONFIRMA_BASE_URL, ppt = process.env.CONFIRMA_PROVISIONING_TOKEN,
    partnerCode = process.env.CONFIRMA_PARTNER_CODE] = process.argv.slice(2)
  if (baseUrl === undefined || ppt === undefined || partnerCode === undefined) {
    console.error('usage: onboard <baseUrl> <provisioningToken> <partnerCode>')
    return 2
  }
  const options: OnboardingClientOptions = { baseUrl, maxRetries: 2, timeoutMs: 10_000, totalTimeoutMs: 30_000, validation: 'strict' }
  const client = new OnboardingClient(options)
  const businessCode = randomBusinessId()
  const form: NewClient = {
    service: { type: 'LIFECYCLE', partnerCode },
    client: {
      name: 'Testiasiakas Oy', businessCode, vatRegNbr: `FI${businessCode.replace('-', '')}`,
      postalAddress: 'Testikuja 7', postalCode: '00100', postalDistrict: 'HELSINKI', countryCode: 'FI',
      email: 'laskutus@testiasiakas.fi', website: 'https://www.testiasiakas.fi', languageCode: 'FI'
    },
    contacts: [{ role: 'PRIMARY', name: 'Maija Meikäläinen', email: 'maija@testiasiakas.fi' }]
  }
  const store = new MemoryStore()
  const created = await onboard(client, new SecretToken(ppt), form, store)
  if (created === undefined) return 1
  console.log('created', created)

  const token = await store.load(created.clientId)
  const status: TokenStatus = await client.validateToken(token ?? '')
  console.log('validate', status)

  const renewed: RenewedToken = await client.renewToken(token ?? '')
  await store.save(created.clientId, renewed.accessToken, renewed.expiresAt)
  const expires: string = renewed.expiresAt?.toISOString() ?? 'never'
  console.log(`renewed, expires ${expires}`)
  return (await client.validateToken(renewed.accessToken)).isValid ? 0 : 1
}

main().then((code) => { process.exitCode = code }, (err: unknown) => { console.error(err); process.exitCode = 1 })
