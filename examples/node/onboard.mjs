// The automated onboarding flow with confirma-sdk: create a client with the Partner Provisioning Token,
// store its access token, validate it at start-up, renew it when needed. Runs against any CFIS URL —
// e.g. the local sandbox:
//
//   confirma-sandbox --host 127.0.0.1 --port 0     # prints {"baseUrl", "provisioningToken", "partnerCode"}
//   node onboard.mjs <baseUrl> <provisioningToken> <partnerCode>
//
// (or set CONFIRMA_BASE_URL, CONFIRMA_PROVISIONING_TOKEN, CONFIRMA_PARTNER_CODE).
import {
  ConflictError, OnboardingClient, OutcomeUnknownError, SecretToken, ValidationError
} from 'confirma-sdk'

const [baseUrl = process.env.CONFIRMA_BASE_URL, ppt = process.env.CONFIRMA_PROVISIONING_TOKEN,
  partnerCode = process.env.CONFIRMA_PARTNER_CODE] = process.argv.slice(2)
if (!baseUrl || !ppt || !partnerCode) {
  console.error('usage: node onboard.mjs <baseUrl> <provisioningToken> <partnerCode>')
  process.exit(2)
}
const provisioningToken = new SecretToken(ppt) // never printed: console.log shows SecretToken([REDACTED])

// A fresh, valid Finnish Business ID, so the demo can run repeatedly against one sandbox.
function randomBusinessId () {
  const weights = [7, 9, 10, 5, 8, 4, 2]
  for (;;) {
    const digits = String(1000000 + Math.floor(Math.random() * 8999999))
    const r = [...digits].reduce((s, d, i) => s + Number(d) * weights[i], 0) % 11
    if (r !== 1) return `${digits}-${r === 0 ? 0 : 11 - r}`
  }
}

const businessCode = randomBusinessId()
/** @type {import('confirma-sdk').NewClient} */
const form = {
  service: { type: 'LIFECYCLE', partnerCode },
  client: {
    name: 'Testiasiakas Oy',
    businessCode,
    vatRegNbr: 'FI' + businessCode.replace('-', ''),
    postalAddress: 'Testikuja 7',
    postalCode: '00100',
    postalDistrict: 'HELSINKI',
    countryCode: 'FI',
    email: 'laskutus@testiasiakas.fi',
    website: 'https://www.testiasiakas.fi',
    languageCode: 'FI'
  },
  contacts: [
    { role: 'PRIMARY', name: 'Maija Meikäläinen', email: 'maija@testiasiakas.fi' },
    { role: 'ACCOUNTANT', name: 'Tilitoimisto Tarkka', email: 'kirjanpito@tarkka.fi' }
  ]
}

// A deadline for every call (retries included) through `totalTimeoutMs`: it ends in a typed error. An
// AbortSignal also works, but aborting a create or renew after it was sent leaves its outcome unknown.
const client = new OnboardingClient({ baseUrl, userAgentSuffix: 'onboard-example/1.0', totalTimeoutMs: 30_000 })

// 1. Create the client.
let created
try {
  created = await client.createClient(provisioningToken, form)
} catch (err) {
  if (err instanceof ValidationError) {
    console.error(`fix the form (${err.source}-side):`, err.fieldErrors)
  } else if (err instanceof ConflictError) {
    console.error('the client already exists: use its stored token (validate / renew) instead')
  } else if (err instanceof OutcomeUnknownError && err.recoveredToken) {
    // The service created the client but its answer lacked the ids: this is the client's only token.
    console.error('created, but the answer was incomplete: store err.recoveredToken.reveal() for', businessCode)
  } else {
    console.error(`${err.code ?? err.name}: ${err.message}`)
  }
  process.exit(1)
}
console.log('created', { clientId: created.clientId, customerCode: created.customerCode,
  paymentReferencePrefix: created.paymentReferencePrefix, accessToken: created.accessToken,
  tokenExpiresAt: created.tokenExpiresAt?.toISOString() ?? 'never' })
// Store created.accessToken.reveal() in your database (encrypted); here we keep it in memory.
let stored = created.accessToken.reveal()

// 2. At start-up: validate the stored token; renew it if it has expired.
const status = await client.validateToken(stored)
console.log('validate', status)
if (!status.isValid && status.expired) stored = (await client.renewToken(stored)).accessToken.reveal()

// 3. Periodically (well before tokenExpiresAt): renew. The old token stops working.
const renewed = await client.renewToken(stored)
stored = renewed.accessToken.reveal()
console.log('renewed', { accessToken: renewed.accessToken, expiresAt: renewed.expiresAt?.toISOString() ?? 'never' })

const old = await client.validateToken(created.accessToken)
const fresh = await client.validateToken(stored)
console.log(`old token valid: ${old.isValid}, new token valid: ${fresh.isValid}`)
if (old.isValid || !fresh.isValid) process.exit(1)
