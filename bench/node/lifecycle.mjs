// The per-call cost of `manager.token()` on the hot path (the token served from memory, no I/O), with the
// installed confirma-sdk package, against a running sandbox (or any CFIS URL that creates clients):
//
//   confirma-sandbox --host 127.0.0.1 --port 0          # prints {"baseUrl", "provisioningToken", "partnerCode"}
//   cd <a project with confirma-sdk installed>          # e.g. target/node-scratch after bindings-node/scripts/test.sh
//   CONFIRMA_PROVISIONING_TOKEN=cfis_ppt_... node /path/to/bench/node/lifecycle.mjs <baseUrl> <partnerCode> [seconds]
//
// (or CONFIRMA_BASE_URL / CONFIRMA_PARTNER_CODE / CONFIRMA_BENCH_SECONDS). The token is read from the
// environment only, never argv. Prints one line: `node token() hot path: N ns/call (M calls)` — sequential
// awaited calls, each a full Promise round trip through the native layer.
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'

// The package resolves from the working directory (the project it is installed in), else from here.
let sdk
try {
  sdk = createRequire(process.cwd() + '/package.json')('confirma-sdk')
} catch {
  sdk = await import('confirma-sdk')
}
const { MemoryStore, OnboardingClient, SecretToken, TokenManager } = sdk

const [baseUrl = process.env.CONFIRMA_BASE_URL, partnerCode = process.env.CONFIRMA_PARTNER_CODE,
  secondsArg = process.env.CONFIRMA_BENCH_SECONDS ?? '2'] = process.argv.slice(2)
const ppt = process.env.CONFIRMA_PROVISIONING_TOKEN
if (!baseUrl || !partnerCode || !ppt) {
  console.error('usage: CONFIRMA_PROVISIONING_TOKEN=... node lifecycle.mjs <baseUrl> <partnerCode> [seconds]')
  process.exit(2)
}
const seconds = Number(secondsArg)

function businessCode () {
  const weights = [7, 9, 10, 5, 8, 4, 2]
  for (;;) {
    const digits = String(1000000 + Math.floor(Math.random() * 8999999))
    const r = [...digits].reduce((s, d, i) => s + Number(d) * weights[i], 0) % 11
    if (r !== 1) return `${digits}-${r === 0 ? 0 : 11 - r}`
  }
}

const code = businessCode()
const client = new OnboardingClient({ baseUrl })
const manager = new TokenManager(client, new MemoryStore())
const created = await manager.createClient(new SecretToken(ppt), {
  service: { type: 'LIFECYCLE', partnerCode },
  client: {
    name: 'Benchmark Oy', businessCode: code, vatRegNbr: 'FI' + code.replace('-', ''), postalAddress: 'Testikuja 7',
    postalCode: '00100', postalDistrict: 'HELSINKI', countryCode: 'FI', email: 'bench@example.fi', languageCode: 'FI'
  },
  contacts: [{ role: 'PRIMARY', name: 'Bench', email: 'bench@example.fi' }]
})
const id = created.clientId

// Warm-up: the first call loads the record; then JIT and the dispatcher settle.
for (let i = 0; i < 2000; i++) await manager.token(id)

let calls = 0
const t0 = performance.now()
const until = t0 + seconds * 1000
while (performance.now() < until) {
  for (let i = 0; i < 1000; i++) await manager.token(id)
  calls += 1000
}
const elapsedNs = (performance.now() - t0) * 1e6
const status = await manager.status(id)
if (status.tokenVersion !== 1) throw new Error('a renewal happened during the benchmark: not the hot path')
await manager.close()
console.log(`node token() hot path: ${Math.round(elapsedNs / calls)} ns/call (${calls} calls)`)
