// A small HTTP service (node:http, no other dependency) that calls CFIS on behalf of a client whose access
// token a TokenManager keeps alive: validated at start-up, served from memory on every request with
// `manager.token(clientId)`, renewed when due (crash-safe, once per fleet) well before it expires.
// Runs against any CFIS URL — e.g. the local sandbox:
//
//   confirma-sandbox --host 127.0.0.1 --port 0        # prints {"baseUrl", "provisioningToken", "partnerCode"}
//   export CONFIRMA_STORE_KEY=$(openssl rand -base64 32)
//   CONFIRMA_PROVISIONING_TOKEN=cfis_ppt_... node service.mjs <baseUrl> [storeFile] [partnerCode]
//
// With no managed client in the store yet, it creates one (needs CONFIRMA_PROVISIONING_TOKEN and a partner
// code); otherwise it serves the stored one (or CONFIRMA_CLIENT_ID). Tokens never appear in its output:
// only fingerprints. PORT (default 0: any free port) and HOST (default 127.0.0.1) choose where it listens.
//
//   GET /call    uses the managed token for a CFIS call (here: validate it) and says how it went
//   GET /health  every managed credential's status (no tokens)
import http from 'node:http'
import {
  CredentialsLostError, OnboardingClient, SecretToken, SqliteStore, StorageError, TokenManager
} from 'confirma-sdk'

const [baseUrl = process.env.CONFIRMA_BASE_URL, storeFile = './confirma-credentials.db',
  partnerCode = process.env.CONFIRMA_PARTNER_CODE] = process.argv.slice(2)
if (!baseUrl) {
  console.error('usage: node service.mjs <baseUrl> [storeFile] [partnerCode]   (key: CONFIRMA_STORE_KEY)')
  process.exit(2)
}

const client = new OnboardingClient({ baseUrl })
// The key comes from CONFIRMA_STORE_KEY; without one, opening fails (no silent plaintext).
const store = SqliteStore.open(storeFile)
const manager = new TokenManager(client, store)
manager.on('event', (e) => {
  console.log(`[event] ${e.kind} client=${e.clientId} version=${e.tokenVersion} ${e.fingerprint}${e.detail ? ` (${e.detail})` : ''}`)
})
manager.on('lost', (e) => console.error(`[alert] the credentials of ${e.clientId} are lost: ask Confirma Finance support for a new token`))

/** The client this service works for: the configured or stored one, else a new one (demo). */
async function managedClientId () {
  if (process.env.CONFIRMA_CLIENT_ID) return process.env.CONFIRMA_CLIENT_ID
  const stored = (await manager.statuses()).filter((s) => !s.clientId.startsWith('pending-create:'))
  if (stored.length > 0) return stored[0].clientId
  const ppt = process.env.CONFIRMA_PROVISIONING_TOKEN
  if (!ppt || !partnerCode) throw new Error('no managed client yet: set CONFIRMA_PROVISIONING_TOKEN and a partner code to create one')
  const created = await manager.createClient(new SecretToken(ppt), demoForm(partnerCode))
  console.log(`created client ${created.clientId} (customer ${created.customerCode}); its credentials are in ${store.description}`)
  return created.clientId
}

// Start-up: load the token (validated unless an instance did so recently) and check it with the service.
const clientId = await managedClientId()
const first = await manager.token(clientId)
const check = await client.validateToken(first)
const status = await manager.status(clientId)
console.log(`start-up: client ${clientId} token ${status.fingerprint} version ${status.tokenVersion} valid=${check.isValid} health=${status.health}`)
if (!check.isValid) {
  console.error('the stored token is not accepted: import a new one with manager.importCredentials()')
  process.exit(1)
}

const json = (res, code, body) => {
  res.writeHead(code, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.url === '/call') {
      // The hot path: from memory, no I/O; when due, this call renews first (once per fleet).
      const token = await manager.token(clientId, { signal: AbortSignal.timeout(30000) })
      const result = await client.validateToken(token) // stands in for the CFIS call made with the token
      const s = await manager.status(clientId)
      return json(res, 200, { clientId, valid: result.isValid, tokenVersion: s.tokenVersion, fingerprint: s.fingerprint })
    }
    if (req.url === '/health') {
      const all = await manager.statuses()
      const worst = all.some((s) => s.health === 'lost') ? 503 : 200
      return json(res, worst, all.map((s) => ({ clientId: s.clientId, health: s.health, state: s.state, tokenVersion: s.tokenVersion, nextRenewAt: s.nextRenewAt })))
    }
    json(res, 404, { error: 'not found' })
  } catch (e) {
    // Errors never carry a token. Lost credentials need a human; a storage error is usually transient.
    const code = e instanceof CredentialsLostError ? 503 : e instanceof StorageError && e.retryable ? 503 : 500
    json(res, code, { error: e.kind ?? 'internal', message: e.message })
  }
})

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address()
  console.log(JSON.stringify({ listening: `http://${address}:${port}` }))
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.log(`${signal}: shutting down`)
    server.close(() => manager.close())
  })
}

// A fresh, valid Finnish Business ID, so the demo can run repeatedly against one sandbox.
function demoForm (partnerCode) {
  const weights = [7, 9, 10, 5, 8, 4, 2]
  let businessCode
  for (;;) {
    const digits = String(1000000 + Math.floor(Math.random() * 8999999))
    const r = [...digits].reduce((s, d, i) => s + Number(d) * weights[i], 0) % 11
    if (r !== 1) { businessCode = `${digits}-${r === 0 ? 0 : 11 - r}`; break }
  }
  return {
    service: { type: 'LIFECYCLE', partnerCode },
    client: {
      name: 'Palveluesimerkki Oy',
      businessCode,
      vatRegNbr: 'FI' + businessCode.replace('-', ''),
      postalAddress: 'Testikuja 7',
      postalCode: '00100',
      postalDistrict: 'HELSINKI',
      countryCode: 'FI',
      email: 'laskutus@palveluesimerkki.fi',
      languageCode: 'FI'
    },
    contacts: [{ role: 'PRIMARY', name: 'Maija Meikäläinen', email: 'maija@palveluesimerkki.fi' }]
  }
}
