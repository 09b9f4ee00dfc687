// The web onboarding example's server: Fastify on confirma-sdk (the Node binding).
//
// The page (public/) renders the onboarding form from the SDK's form schema only (`formSchema(language)`,
// its `x-confirma-form` extension: groups, fields, labels, the terms step, the message catalogue). This server
// is the partner's back end: it prefills the company details the partner knows, validates through the SDK
// (`validateForm`, the same rules `createClient` applies), creates the client through a TokenManager over a
// SqliteStore (the credentials are committed before the page hears of them) and answers the page with the
// customer code and the token's status — never the token.
//
//   ./run                    # builds what is missing, starts a sandbox and this server, prints {"url": ...}
//   node server.mjs          # the same without the build step
//
// Environment (all optional):
//   PORT                          the port on 127.0.0.1 (default: a free one)
//   CONFIRMA_BASE_URL, CONFIRMA_PROVISIONING_TOKEN, CONFIRMA_PARTNER_CODE
//                                 use this CFIS instead of starting the sandbox
//   CONFIRMA_SANDBOX_BIN          the sandbox binary (default: the repository's debug build)
//   CONFIRMA_STORE_KEY            the store key (base64 of 32 bytes; default: a random key for this run)
//   WEB_ONBOARDING_DATA_DIR       where the credential store lives (default: a temp dir removed on exit)
import { spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import {
  ConflictError, OnboardingClient, OutcomeUnknownError, SecretToken, SqliteStore, TokenManager, ValidationError,
  formSchema, validateForm
} from 'confirma-sdk'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(HERE, '..', '..')
const LANGUAGES = ['fi', 'sv', 'en']
const DEFAULT_LANGUAGE = 'fi'
const log = (msg) => process.stderr.write(`[web-onboarding] ${msg}\n`)

/** The sandbox binary on 127.0.0.1:0; resolves to its JSON line ({baseUrl, provisioningToken, partnerCode}). */
async function startSandbox () {
  const bin = process.env.CONFIRMA_SANDBOX_BIN ||
    path.join(REPO, 'target', 'x86_64-unknown-linux-gnu', 'debug', 'confirma-sandbox')
  if (!existsSync(bin)) throw new Error(`sandbox binary not found at ${bin} (run ./run, or set CONFIRMA_SANDBOX_BIN)`)
  const child = spawn(bin, ['--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sandbox did not start within 20 s')), 20000)
    lines.once('line', (l) => { clearTimeout(timer); resolve(l) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the sandbox exited early (${code})`)) })
    child.once('error', (e) => { clearTimeout(timer); reject(e) })
  })
  lines.on('line', () => {}) // keep draining
  return { ...JSON.parse(first), child }
}

// ---------------------------------------------------------------------------------------------
// What the partner already knows about the company: the demo's prefill (a fresh, valid company each time).

const COMPANIES = ['Testiasiakas Oy', 'Kahvila Kaneli Oy', 'Rakennus Routa Ab', 'Tilipalvelu Tase Oy', 'Saaristo Design Ab']

/** A random valid Finnish Business ID (7 digits, '-', the check digit). */
function randomBusinessId () {
  const weights = [7, 9, 10, 5, 8, 4, 2]
  for (;;) {
    const digits = String(randomInt(1000000, 9999999))
    const r = [...digits].reduce((s, d, i) => s + Number(d) * weights[i], 0) % 11
    if (r !== 1) return `${digits}-${r === 0 ? 0 : 11 - r}`
  }
}

function knownCompany () {
  const name = COMPANIES[randomInt(COMPANIES.length)]
  const businessCode = randomBusinessId()
  const domain = name.toLowerCase().replace(/ (oy|ab)$/, '').normalize('NFD').replace(/[^a-z]/g, '') + '.fi'
  return {
    'client.name': name,
    'client.businessCode': businessCode,
    'client.vatRegNbr': 'FI' + businessCode.replace('-', ''),
    'client.postalAddress': 'Testikuja 7',
    'client.postalCode': '00100',
    'client.postalDistrict': 'HELSINKI',
    'client.countryCode': 'FI',
    'client.languageCode': 'FI',
    'client.telephone': '+358 9 123 4567',
    'client.email': `laskutus@${domain}`,
    'client.website': `https://www.${domain}`
  }
}

// ---------------------------------------------------------------------------------------------

/** `?lang=` / the body's `lang` → one of fi, sv, en (anything else: the default). */
function language (value) {
  const v = String(value ?? '').trim().toLowerCase().slice(0, 2)
  return LANGUAGES.includes(v) ? v : DEFAULT_LANGUAGE
}

/** What the page sees of an issue: where, which rule, and the end-user text (not the developer text). */
function pageIssue (i) {
  return { field: i.field, code: i.code, params: i.params, message: i.userMessage }
}

/** The UI requirements of the schema (the terms) that the page must have ticked: issues for those that are not. */
function uiRequirementIssues (lang, accepted) {
  return (formSchema(lang)['x-confirma-form'].uiRequirements ?? [])
    .filter((req) => req.required && accepted?.[req.id] !== true)
    .map((req) => ({ field: req.id, code: req.code, params: {}, message: req.message }))
}

export async function startApp ({ baseUrl, provisioningToken, partnerCode, dataDir, port = 0 }) {
  const ppt = new SecretToken(provisioningToken)
  const client = new OnboardingClient({ baseUrl, userAgentSuffix: 'web-onboarding-example/1.0', totalTimeoutMs: 20_000, language: DEFAULT_LANGUAGE })
  const store = SqliteStore.open(path.join(dataDir, 'credentials.db'), {
    key: process.env.CONFIRMA_STORE_KEY || randomBytes(32).toString('base64')
  })
  const manager = new TokenManager(client, store)
  // Business ID → client id of the clients created here, and the Business IDs whose create has an unknown
  // outcome: those are never sent again from this page (the partner reconciles them, e.g. with support).
  // (In memory for the demo; a partner keeps these with its own records.)
  const created = new Map()
  const unknown = new Map()
  const pending = new Map() // Business ID → the answer of the create on its way
  const statics = {
    '/': ['index.html', 'text/html; charset=utf-8'],
    '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
    '/style.css': ['style.css', 'text/css; charset=utf-8']
  }

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 })
  app.addHook('onSend', async (req, reply) => {
    reply.header('content-security-policy', "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cache-control', 'no-store')
  })
  app.get('/favicon.ico', async (req, reply) => reply.code(204).send())
  for (const [url, [file, type]] of Object.entries(statics)) {
    app.get(url, async (req, reply) => reply.type(type).send(readFileSync(path.join(HERE, 'public', file))))
  }

  /** The schema the page renders from: the SDK's, in the page's language. */
  app.get('/api/schema', async (req) => formSchema(language(req.query.lang)))

  /** The company details the partner already knows (only the fields the schema marks as commonly prefilled). */
  app.get('/api/prefill', async () => {
    const prefill = new Set(formSchema('en')['x-confirma-form'].prefill ?? [])
    const known = knownCompany()
    return { values: Object.fromEntries(Object.entries(known).filter(([p]) => prefill.has(p))) }
  })

  /** The form as the API takes it: what the page sent, plus the partner's code (not a form field). */
  function payload (form) {
    const f = form !== null && typeof form === 'object' && !Array.isArray(form) ? form : {}
    const service = f.service !== null && typeof f.service === 'object' && !Array.isArray(f.service) ? f.service : {}
    return { ...f, service: { ...service, partnerCode } }
  }

  /** Validates as the user leaves a field: every issue of the form (the page shows those of visited fields). */
  app.post('/api/validate', async (req) => {
    const lang = language(req.body?.lang)
    const issues = validateForm(payload(req.body?.form), { language: lang }).map(pageIssue)
    return { issues: [...issues, ...uiRequirementIssues(lang, req.body?.accepted)] }
  })

  /** Submits: all problems at once, or the client created and its credentials stored. */
  app.post('/api/onboard', async (req, reply) => {
    const lang = language(req.body?.lang)
    const form = payload(req.body?.form)
    const issues = [
      ...validateForm(form, { language: lang }).map(pageIssue),
      ...uiRequirementIssues(lang, req.body?.accepted)
    ]
    if (issues.length > 0) return reply.code(422).send({ outcome: 'invalid', issues })
    const businessCode = String(form.client?.businessCode ?? '').trim()
    if (unknown.has(businessCode)) return reply.code(202).send(unknown.get(businessCode))
    // A second submit of the same company while the first is on its way gets the first one's answer.
    let answer = pending.get(businessCode)
    if (answer === undefined) {
      answer = create(form, businessCode).finally(() => pending.delete(businessCode))
      pending.set(businessCode, answer)
    }
    const { status, body } = await answer
    return reply.code(status).send(body)
  })

  /** Creates the client through the TokenManager: `{status, body}` for the page. */
  async function create (form, businessCode) {
    try {
      const c = await manager.createClient(ppt, form)
      created.set(businessCode, c.clientId)
      return { status: 200, body: { outcome: 'created', ...(await credentialStatus(c.clientId)) } }
    } catch (err) {
      if (err instanceof ConflictError) {
        // The existing-client path: the company is a client already. If its credentials are ours, show them.
        const clientId = created.get(businessCode)
        return { status: 409, body: { outcome: 'existing', ...(clientId ? await credentialStatus(clientId) : {}) } }
      }
      if (err instanceof OutcomeUnknownError || err?.outcomeUnknown === true) {
        // The request may have created the client: never send it again from here.
        const body = { outcome: 'unknown', reference: err.requestId ?? null }
        unknown.set(businessCode, body)
        log(`create for ${businessCode}: outcome unknown (${err.code}; request ${err.requestId ?? '-'})`)
        return { status: 202, body }
      }
      if (err instanceof ValidationError) {
        return { status: 422, body: { outcome: 'invalid', issues: err.issues.map(pageIssue) } }
      }
      // Nothing was created (rate limited, unavailable, ...): the page may offer to try again later.
      log(`create for ${businessCode} failed: ${err.code ?? err.name}`)
      return { status: 503, body: { outcome: 'failed', retryable: err.retryable === true } }
    }
  }

  /** The stored credentials' status: everything the page may show — never the token. */
  async function credentialStatus (clientId) {
    const s = await manager.status(clientId)
    return {
      clientId: s.clientId,
      customerCode: s.customerCode,
      paymentReferencePrefix: s.paymentReferencePrefix,
      token: {
        fingerprint: s.fingerprint,
        state: s.state,
        health: s.health,
        version: s.tokenVersion,
        encrypted: s.encrypted,
        expiresAt: s.expiresAt?.toISOString() ?? null,
        nextRenewAt: s.nextRenewAt?.toISOString() ?? null
      }
    }
  }

  await app.listen({ host: '127.0.0.1', port })
  const { port: bound } = app.server.address()
  return {
    url: `http://127.0.0.1:${bound}`,
    async close () {
      await app.close()
      await manager.close()
    }
  }
}

async function main () {
  const external = process.env.CONFIRMA_BASE_URL
  let sandbox = null
  let cfis
  if (external) {
    cfis = {
      baseUrl: external,
      provisioningToken: process.env.CONFIRMA_PROVISIONING_TOKEN ?? '',
      partnerCode: process.env.CONFIRMA_PARTNER_CODE ?? ''
    }
  } else {
    sandbox = await startSandbox()
    cfis = sandbox
    process.on('exit', () => sandbox.child.kill('SIGTERM'))
    log(`sandbox at ${sandbox.baseUrl} (partner ${sandbox.partnerCode}; admin API under /_sandbox/)`)
  }
  const ownDir = !process.env.WEB_ONBOARDING_DATA_DIR
  const dataDir = process.env.WEB_ONBOARDING_DATA_DIR || mkdtempSync(path.join(os.tmpdir(), 'confirma-web-onboarding-'))
  mkdirSync(dataDir, { recursive: true })
  const app = await startApp({ ...cfis, dataDir, port: Number(process.env.PORT ?? 0) })
  log(`credentials store: ${path.join(dataDir, 'credentials.db')}`)
  process.stdout.write(JSON.stringify({ url: app.url }) + '\n')

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await app.close().catch((e) => log(`closing: ${e.message}`))
    if (sandbox) {
      const exited = new Promise((resolve) => sandbox.child.once('exit', resolve))
      sandbox.child.kill('SIGTERM')
      await exited
    }
    if (ownDir) rmSync(dataDir, { recursive: true, force: true })
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    log(`failed to start: ${e.message}`)
    process.exit(1)
  })
}
