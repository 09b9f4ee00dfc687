// The token lifecycle through the public API, against the real sandbox: the SDK's stores and their key,
// the TokenManager and its events, createClient with a store, AbortSignal mid-rotation, two managers in
// two worker threads on one SQLite file, and that nothing prints a token.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'
import { Worker } from 'node:worker_threads'
import { after, before, describe, it } from 'node:test'
import {
  AbortError, ConfigurationError, MemoryStore, OnboardingClient, PostgresStore, SecretToken, SqliteStore, StorageError, TokenManager,
  checkStore
} from 'confirma-sdk'
import { newClient, rejection, startSandbox } from './helpers.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const KEY = randomBytes(32).toString('base64')
let sb, dir, n = 400

/** Polls `check` until it returns a truthy value, failing after `ms`. */
export async function eventually (check, ms = 10000, what = 'the condition') {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() > deadline) assert.fail(`${what} did not hold within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function renews (state) {
  return state.requestsByPath?.['/api/v1/partner/renew'] ?? 0
}

before(async () => {
  delete process.env.CONFIRMA_STORE_KEY
  delete process.env.CONFIRMA_STORE_PREVIOUS_KEYS
  sb = await startSandbox()
  dir = mkdtempSync(path.join(os.tmpdir(), 'confirma-node-lifecycle-'))
})
after(async () => {
  await sb?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const client = () => new OnboardingClient({ baseUrl: sb.baseUrl, maxRetries: 0 })
const dbPath = (name) => path.join(dir, `${name}-${n++}.db`)

describe('stores and their key', () => {
  it('a SQLite store without a key (and no CONFIRMA_STORE_KEY) is a StorageError unless plaintext is opted into', () => {
    const e = (() => { try { SqliteStore.open(dbPath('nokey')) } catch (err) { return err } })()
    assert.ok(e instanceof StorageError, String(e))
    assert.match(e.message, /CONFIRMA_STORE_KEY/)
    assert.equal(SqliteStore.open(dbPath('plain'), { plaintext: true }).encrypted, false)
    const bad = (() => { try { SqliteStore.open(dbPath('bad'), { key: 'short' }) } catch (err) { return err } })()
    assert.ok(bad instanceof StorageError)
    assert.throws(() => SqliteStore.open(dbPath('t'), { key: 42 }), ConfigurationError)
    assert.throws(() => new SqliteStore(), TypeError)
  })

  it('the key never shows in inspect, toString, JSON or errors; CONFIRMA_STORE_KEY is the default', () => {
    const s = SqliteStore.open(dbPath('keyed'), { key: KEY })
    assert.equal(s.encrypted, true)
    for (const shown of [inspect(s), String(s), JSON.stringify(s), inspect(s, { showHidden: true, depth: 9 })]) {
      assert.ok(!shown.includes(KEY), shown)
      assert.ok(!shown.includes(KEY.slice(0, 12)), shown)
    }
    process.env.CONFIRMA_STORE_KEY = KEY
    try {
      assert.equal(SqliteStore.open(dbPath('envkey')).encrypted, true)
    } finally {
      delete process.env.CONFIRMA_STORE_KEY
    }
    assert.equal(new MemoryStore().encrypted, true, 'sealed under a random key of the store')
    assert.equal(new MemoryStore({ plaintext: true }).encrypted, false)
    assert.equal(new MemoryStore({ key: KEY }).encrypted, true)
  })

  it('PostgresStore.connect to an unreachable server rejects with a StorageError that never shows the password', async () => {
    const e = await rejection(PostgresStore.connect('postgres://app:hunter2secret@127.0.0.1:1/credentials', { key: KEY }))
    assert.ok(e instanceof StorageError, String(e))
    assert.ok(!`${e.message} ${inspect(e, { depth: 9 })}`.includes('hunter2secret'))
    const noKey = await rejection(PostgresStore.connect('postgres://app@127.0.0.1:1/credentials'))
    assert.ok(noKey instanceof StorageError)
    assert.match(noKey.message, /CONFIRMA_STORE_KEY/)
  })

  const pgUrl = process.env.CONFIRMA_TEST_POSTGRES_URL
  it('PostgresStore: the lifecycle on a real PostgreSQL (scripts/postgres.sh)', { skip: !pgUrl && 'no CONFIRMA_TEST_POSTGRES_URL (PostgreSQL not installed)' }, async () => {
    await sb.reset()
    const store = await PostgresStore.connect(pgUrl, { key: KEY })
    assert.equal(store.encrypted, true)
    const password = new URL(pgUrl).password
    for (const shown of [store.description, inspect(store), JSON.stringify(store)]) {
      assert.ok(!password || !shown.includes(password), shown)
    }
    const c = client()
    const created = await c.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++), { store })
    const a = new TokenManager(c, store, { owner: 'pg-a' })
    const b = new TokenManager(c, await PostgresStore.connect(pgUrl, { key: KEY }), { owner: 'pg-b' })
    assert.ok((await b.token(created.clientId)).equals(created.accessToken))
    assert.equal((await a.renewNow(created.clientId)).tokenVersion, 2)
    assert.equal((await b.status(created.clientId)).tokenVersion, 2)
    // A third instance (a new connection, a new manager) reads the rotated token from PostgreSQL.
    const fresh = new TokenManager(c, await PostgresStore.connect(pgUrl, { key: KEY }))
    const t = await fresh.token(created.clientId)
    assert.ok(t.equals(await a.token(created.clientId)))
    assert.equal((await c.validateToken(t)).isValid, true)
    await fresh.close()
    await a.close()
    await b.close()
  })

  it('the SDK stores pass the conformance suite', async () => {
    for (const s of [new MemoryStore(), SqliteStore.open(dbPath('conf'), { key: KEY })]) {
      const report = await checkStore(s)
      assert.ok(report.passed.length >= 5, inspect(report))
    }
  })
})

describe('TokenManager', () => {
  it('bad options are ConfigurationErrors naming the option as the caller spells it', () => {
    const store = new MemoryStore()
    const c = client()
    for (const [opts, name] of [[{ renewEveryMs: -1 }, 'renewEveryMs'], [{ jitter: 0.9 }, 'jitter'],
      [{ pollIntervalMs: 'x' }, 'pollIntervalMs'], [{ nope: 1 }, 'nope'], [{ renewAtFraction: 1 }, 'renewAtFraction']]) {
      const e = (() => { try { return new TokenManager(c, store, opts) } catch (err) { return err } })()
      assert.ok(e instanceof ConfigurationError, `${inspect(opts)}: ${e}`)
      assert.ok(e.message.includes(name), e.message)
    }
    assert.throws(() => new TokenManager({}, store), TypeError)
    assert.throws(() => new TokenManager(c, {}), TypeError)
  })

  it('createClient with a store, token(), renewNow(), statuses and events; nothing prints a token', async () => {
    await sb.reset()
    const c = client()
    const store = SqliteStore.open(dbPath('life'), { key: KEY })
    const created = await c.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++), { store })
    const m = new TokenManager(c, store, { owner: 'node-a' })
    const events = []
    m.on('event', (e) => events.push(e))
    const rotated = []
    m.on('rotated', (e) => rotated.push(e))

    const t = await m.token(created.clientId)
    assert.ok(t instanceof SecretToken)
    assert.ok(t.equals(created.accessToken))
    const s = await m.renewNow(created.clientId)
    assert.equal(s.tokenVersion, 2)
    assert.equal(s.state, 'active')
    assert.equal(s.health, 'healthy')
    assert.equal(s.encrypted, true)
    assert.ok(s.lastRenewedAt instanceof Date)
    const t2 = await m.token(created.clientId)
    assert.ok(!t2.equals(t))
    assert.equal((await c.validateToken(t2)).isValid, true)
    assert.equal((await c.validateToken(t)).isValid, false)
    await eventually(() => rotated.length === 1, 5000, 'a rotated event')
    assert.equal(rotated[0].kind, 'rotated')
    assert.equal(rotated[0].clientId, created.clientId)
    assert.equal(rotated[0].tokenVersion, 2)
    assert.ok(rotated[0].at instanceof Date)
    assert.ok(events.some((e) => e.kind === 'renew_started'))
    const all = await m.statuses()
    assert.deepEqual(all.map((x) => x.clientId), [created.clientId])

    // Nothing shows a token: the manager, statuses, events, the store file (sealed).
    const shown = [inspect(m, { depth: 9 }), JSON.stringify(m), String(m), inspect(s), JSON.stringify(all),
      inspect(events, { depth: 9 }), JSON.stringify(events), inspect(t2), `${t2}`]
    for (const text of shown) {
      for (const tok of [t, t2]) assert.ok(!text.includes(tok.reveal()), text)
    }
    const file = readFileSync(store.description.replace(/^sqlite:/, ''))
    for (const tok of [t, t2]) assert.equal(file.includes(Buffer.from(tok.reveal())), false)
    await m.close()
    await assert.rejects(m.token(created.clientId), ConfigurationError)
  })

  it('manager.createClient and importCredentials emit their events; an unknown token is refused', async () => {
    await sb.reset()
    const c = client()
    const m = new TokenManager(c, new MemoryStore({ key: KEY }))
    const kinds = []
    m.on('event', (e) => kinds.push(e.kind))
    const created = await m.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++))
    await eventually(() => ['create_started', 'created', 'create_finished'].every((k) => kinds.includes(k)), 5000, 'create events')
    const other = new TokenManager(c, new MemoryStore())
    const imported = []
    other.on('imported', (e) => imported.push(e))
    const s = await other.importCredentials(created.clientId, created.accessToken, { customerCode: created.customerCode })
    assert.equal(s.customerCode, created.customerCode)
    await eventually(() => imported.length === 1, 5000, 'an imported event')
    assert.ok((await other.token(created.clientId)).equals(created.accessToken))
    const e = await rejection(other.importCredentials('cl_nobody', 'cfis_not_a_token_we_know_about'))
    assert.equal(e.kind, 'validation')
    const missing = await rejection(other.status('cl_nobody'))
    assert.ok(missing.kind, String(missing))
  })

  it('an AbortSignal on renewNow() mid-rotation only stops waiting: the rotation is persisted', async () => {
    await sb.reset()
    const c = client()
    const file = dbPath('abort')
    const store = SqliteStore.open(file, { key: KEY })
    const created = await c.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++), { store })
    const m = new TokenManager(c, store)
    await m.token(created.clientId)
    await sb.fault({ path: '/api/v1/partner/renew', kind: 'delay', ms: 1200, times: 1 })
    const ac = new AbortController()
    const call = m.renewNow(created.clientId, { signal: ac.signal })
    await eventually(async () => (await m.status(created.clientId)).state === 'renewing', 5000, 'the claim')
    ac.abort()
    const e = await rejection(call)
    assert.ok(e instanceof AbortError, String(e))
    // The rotation completes in the background and is committed: another manager (another process's
    // view: a fresh store handle on the same file) sees version 2 and gets the new token.
    const fresh = new TokenManager(c, SqliteStore.open(file, { key: KEY }))
    const s = await eventually(async () => {
      const st = await fresh.status(created.clientId)
      return st.tokenVersion === 2 && st.state === 'active' && st
    }, 10000, 'the rotation to be committed')
    assert.equal(s.consecutiveFailures, 0)
    const t = await fresh.token(created.clientId)
    assert.equal((await c.validateToken(t)).isValid, true)
    assert.equal(renews(await sb.state()), 1)
  })

  it('an AbortSignal on token() while it renews an expired token: the rotation is persisted', async () => {
    await sb.reset()
    await sb.admin('POST', '/_sandbox/config', { tokenTtlSeconds: 2 })
    try {
      const c = client()
      const file = dbPath('abort-token')
      const store = SqliteStore.open(file, { key: KEY })
      const created = await c.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++), { store })
      assert.ok(created.tokenExpiresAt instanceof Date)
      await eventually(() => Date.now() > created.tokenExpiresAt.getTime() + 50, 5000, 'the token to expire')
      await sb.admin('POST', '/_sandbox/config', { tokenTtlSeconds: 0 })
      await sb.fault({ path: '/api/v1/partner/renew', kind: 'delay', ms: 1200, times: 1 })
      const m = new TokenManager(c, store)
      const ac = new AbortController()
      const call = m.token(created.clientId, { signal: ac.signal })
      await eventually(async () => (await m.status(created.clientId)).state === 'renewing', 5000, 'the claim')
      ac.abort()
      assert.ok((await rejection(call)) instanceof AbortError)
      const fresh = new TokenManager(c, SqliteStore.open(file, { key: KEY }))
      await eventually(async () => (await fresh.status(created.clientId)).tokenVersion === 2, 10000, 'the rotation to be committed')
      const t = await fresh.token(created.clientId)
      assert.equal((await c.validateToken(t)).isValid, true)
      assert.ok(!t.equals(created.accessToken))
    } finally {
      await sb.admin('POST', '/_sandbox/config', { tokenTtlSeconds: 0 })
    }
  })

  /** Runs two managers in two worker threads on one SQLite file, released together at a gate. */
  async function fleet (file, clientId, mode) {
    const gate = new Int32Array(new SharedArrayBuffer(8))
    const run = (owner) => new Promise((resolve, reject) => {
      const w = new Worker(path.join(here, 'fixtures', 'lifecycle-worker.mjs'), {
        workerData: { baseUrl: sb.baseUrl, file, key: KEY, clientId, owner, gate, mode }
      })
      w.once('message', resolve)
      w.once('error', reject)
      w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited ${code}`)))
    })
    const both = Promise.all([run('worker-1'), run('worker-2')])
    await eventually(() => Atomics.load(gate, 1) === 2, 20000, 'both workers ready')
    Atomics.store(gate, 0, 1)
    Atomics.notify(gate, 0)
    return both
  }

  it('two managers in two worker threads on one SQLite file renew exactly once (renewNow at once)', async () => {
    await sb.reset()
    const c = client()
    const file = dbPath('fleet')
    const store = SqliteStore.open(file, { key: KEY })
    const created = await c.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++), { store })
    // The renewal takes a while, so both workers' renewNow overlap: one renews, the other waits for the
    // lease and takes its token.
    await sb.fault({ path: '/api/v1/partner/renew', kind: 'delay', ms: 600, times: 1 })
    const [a, b] = await fleet(file, created.clientId, 'renewNow')
    assert.equal(renews(await sb.state()), 1, `${inspect(a)} ${inspect(b)}`)
    assert.equal(a.fingerprint, b.fingerprint)
    assert.equal(a.tokenVersion, 2)
    assert.equal(b.tokenVersion, 2)
    assert.equal(a.valid && b.valid, true)
  })

  it('two managers in two worker threads serving token() renew once when the renewal falls due', async () => {
    await sb.reset()
    // Tokens live 3 s: the renewal is due at about 2 s (2/3 of the lifetime, jittered), in both workers.
    await sb.admin('POST', '/_sandbox/config', { tokenTtlSeconds: 3 })
    try {
      const c = client()
      const file = dbPath('fleet-token')
      const store = SqliteStore.open(file, { key: KEY })
      const created = await c.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++), { store })
      await sb.admin('POST', '/_sandbox/config', { tokenTtlSeconds: 600 })
      const [a, b] = await fleet(file, created.clientId, 'token')
      assert.equal(renews(await sb.state()), 1, `${inspect(a)} ${inspect(b)}`)
      assert.equal(a.fingerprint, b.fingerprint)
      assert.equal(a.valid && b.valid, true)
    } finally {
      await sb.admin('POST', '/_sandbox/config', { tokenTtlSeconds: 0 })
    }
  })
})
