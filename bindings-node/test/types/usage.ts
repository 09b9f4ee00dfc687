// Compile-time checks of the public types (tsc --noEmit; never executed).
import { inspect } from 'node:util'
import {
  AbortError, ConfirmaError, ConfigurationError, ERROR_CLASSES, InternalError, OnboardingClient, OutcomeUnknownError,
  RateLimitError, SecretToken, ValidationError,
  type Contact, type CreatedClient, type ErrorCode, type NewClient, type ServiceType, type TokenLike
} from 'confirma-sdk'

export async function usage (): Promise<void> {
  const client = new OnboardingClient({ environment: 'staging', timeoutMs: 5000, validation: 'lenient' })
  const url: string = client.baseUrl
  const nc: NewClient = {
    service: { type: 'COOP', partnerCode: 'QUICK3' },
    client: {
      name: 'A', businessCode: '1572860-0', postalAddress: 'x', postalCode: '00100', postalDistrict: 'H',
      countryCode: 'FI', email: 'a@b.fi', languageCode: 'FI', telephone: null
    },
    contacts: [{ role: 'PRIMARY', name: 'n', email: 'e@x.fi' }]
  }
  const ac = new AbortController()
  const c: CreatedClient = await client.createClient('ppt', nc, { signal: ac.signal })
  const token: SecretToken = c.accessToken
  const when: Date | null = c.tokenExpiresAt
  const raw: string = token.reveal()
  const t2: TokenLike = raw
  const s = await client.validateToken(t2)
  const ok: boolean = s.isValid && !s.expired
  const r = await client.renewToken(token, {})
  const exp: number | undefined = r.expiresAt?.getTime()
  console.log(url, when, ok, exp, inspect(token))

  try {
    await client.renewToken(token)
  } catch (e) {
    if (e instanceof ValidationError) {
      const f: Readonly<Record<string, string[]>> = e.fieldErrors
      const src: 'client' | 'server' = e.source
      console.log(f, src)
    } else if (e instanceof RateLimitError) {
      const secs: number | null = e.retryAfter
      console.log(secs)
    } else if (e instanceof OutcomeUnknownError) {
      const cause: ConfirmaError = e.cause
      const recovered: SecretToken | null = e.recoveredToken
      const rawAnswer: SecretToken | null = e.rawResponse
      console.log(cause.code, e.operation, recovered?.reveal(), rawAnswer)
    } else if (e instanceof InternalError) {
      const internal: 'CONFIRMA_INTERNAL' = e.code
      console.log(internal)
    } else if (e instanceof ConfirmaError) {
      const st: number | null = e.status
      const rid: string | null = e.requestId
      const retry: boolean = e.retryable
      const detail: string = e.detail
      console.log(st, rid, retry, e.code, detail)
    } else if (e instanceof AbortError) {
      const unknown: boolean = e.outcomeUnknown
      console.log(e.name, e.code, unknown)
    }
  }
  const code: ErrorCode = 'CONFIRMA_PERMISSION_DENIED'
  const cls: typeof ConfigurationError = ERROR_CLASSES.configuration
  const internalCls: typeof InternalError = ERROR_CLASSES.internal
  console.log(internalCls, new OnboardingClient({ environment: 'staging', maxResponseBytes: 2 * 1024 * 1024 }))
  const st: ServiceType = 'INTERMEDIATION'
  const contact: Contact = { role: 'ACCOUNTANT', name: 'x', email: 'y@z.fi' }
  console.log(code, cls, st, contact)

  // Wrong usage must not compile.
  // @ts-expect-error unknown environment
  new OnboardingClient({ environment: 'dev' })
  // @ts-expect-error unknown option
  new OnboardingClient({ environment: 'staging', timeout: 5 })
  // @ts-expect-error unknown service type
  const badType: ServiceType = 'FACTORING'
  // @ts-expect-error unknown contact role
  const badRole: Contact = { role: 'BOSS', name: 'x', email: 'y' }
  // @ts-expect-error missing service section
  await client.createClient('ppt', { client: nc.client, contacts: [] })
  // @ts-expect-error token must be string or SecretToken
  await client.validateToken(42)
  // @ts-expect-error results are read-only
  c.clientId = 'x'
  console.log(badType, badRole)
}
