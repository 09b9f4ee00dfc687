// A store written in JavaScript by a partner (over better-sqlite3, a real database): it passes the SDK's
// conformance suite, carries the whole lifecycle, and a store that throws, rejects or answers garbage
// gets a typed StorageError — nothing is lost, nothing crashes.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { inspect } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { OnboardingClient, StorageError, TokenManager, checkStore } from 'confirma-sdk'
import { newClient, rejection, startSandbox } from './helpers.mjs'
import { BetterSqliteStore } from './fixtures/better-sqlite-store.mjs'

const KEY = randomBytes(32).toString('base64')
let sb, dir, n = 600

before(async () => {
  sb = await startSandbox()
  dir = mkdtempSync(path.join(os.tmpdir(), 'confirma-node-partner-'))
})
after(async () => {
  await sb?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const file = (name) => path.join(dir, `${name}-${n++}.db`)
const client = () => new OnboardingClient({ baseUrl: sb.baseUrl, maxRetries: 0 })

/** Wraps a store so that one method fails (throws, rejects or answers `value`) while `armed`. */
function faulty (inner) {
  const f = { inner, armed: null }
  return new Proxy(inner, {
    get (target, prop) {
      const v = target[prop]
      if (typeof v !== 'function') return v
      return (...args) => {
        const a = f.armed
        if (a && a.method === prop) {
          if (a.mode === 'throw') throw new RangeError('the database is down')
          if (a.mode === 'reject') return Promise.reject(new Error('connection reset by peer'))
          if (a.mode === 'value') return Promise.resolve(a.value)
        }
        return v.apply(target, args)
      }
    },
    set (_t, prop, value) {
      if (prop === 'armed') { f.armed = value; return true }
      return false
    }
  })
}

describe('a partner store over better-sqlite3', () => {
  it('passes the SDK conformance suite', async () => {
    const store = new BetterSqliteStore(file('conformance'))
    const report = await checkStore(store)
    assert.ok(report.passed.length >= 5, inspect(report))
  })

  it('a broken store fails the conformance suite with a StorageError naming the check', async () => {
    const store = new BetterSqliteStore(file('broken'))
    store.compareAndSwap = async () => true // never compares
    const e = await rejection(checkStore(store))
    assert.ok(e instanceof StorageError, String(e))
    assert.match(e.message, /conformance/)
  })

  it('carries the lifecycle: createClient with the store, token(), renewNow(), a second manager', async () => {
    await sb.reset()
    const c = client()
    const path1 = file('life')
    const store = new BetterSqliteStore(path1)
    const created = await c.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++), { store, key: KEY })
    const m = new TokenManager(c, store, { key: KEY, owner: 'partner-a' })
    assert.ok((await m.token(created.clientId)).equals(created.accessToken))
    const s = await m.renewNow(created.clientId)
    assert.equal(s.tokenVersion, 2)
    assert.equal(s.encrypted, true)
    const t = await m.token(created.clientId)
    // The row holds the token only sealed.
    const row = await store.load(s.environment, created.clientId)
    assert.equal(row.revision > 1, true)
    assert.ok(!row.data.includes(t.reveal()))
    // Another manager over another connection to the same database.
    const other = new TokenManager(c, new BetterSqliteStore(path1), { key: KEY })
    assert.ok((await other.token(created.clientId)).equals(t))
    const kinds = (await store.events(null, null, 0, 100)).map((e) => e.kind)
    for (const k of ['create_started', 'created', 'create_finished', 'renew_started', 'rotated']) assert.ok(kinds.includes(k), `${k} in ${kinds}`)
    // The wrong key cannot read it.
    const wrong = new TokenManager(c, new BetterSqliteStore(path1), { key: randomBytes(32).toString('base64') })
    assert.ok((await rejection(wrong.token(created.clientId))) instanceof StorageError)
  })

  for (const mode of ['throw', 'reject']) {
    it(`a store method that ${mode}s is a retryable StorageError and loses nothing`, async () => {
      await sb.reset()
      const c = client()
      const store = faulty(new BetterSqliteStore(file(mode)))
      const m = new TokenManager(c, store, { key: KEY })
      const created = await m.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++))
      const before = await m.status(created.clientId)

      store.armed = { method: 'compareAndSwap', mode }
      const e = await rejection(m.renewNow(created.clientId))
      assert.ok(e instanceof StorageError, String(e))
      assert.equal(e.retryable, true)
      assert.match(e.message, mode === 'throw' ? /RangeError: the database is down/ : /Error: connection reset by peer/)
      // Nothing sent, nothing lost: the claim was never written, the old token still works.
      assert.equal((await sb.state()).requestsByPath['/api/v1/partner/renew'] ?? 0, 0)
      const same = await m.status(created.clientId)
      assert.equal(same.tokenVersion, before.tokenVersion)
      assert.ok((await m.token(created.clientId)).equals(created.accessToken))

      store.armed = { method: 'load', mode }
      assert.ok((await rejection(m.status(created.clientId))) instanceof StorageError)
      store.armed = { method: 'list', mode }
      assert.ok((await rejection(m.statuses())) instanceof StorageError)

      store.armed = null
      const renewed = await m.renewNow(created.clientId)
      assert.equal(renewed.tokenVersion, before.tokenVersion + 1)
      assert.equal((await c.validateToken(await m.token(created.clientId))).isValid, true)
    })
  }

  it('a store that fails before a create sends nothing: no client is created, nothing is lost', async () => {
    await sb.reset()
    const c = client()
    const store = faulty(new BetterSqliteStore(file('create')))
    const m = new TokenManager(c, store, { key: KEY })
    assert.ok(!inspect(m).includes(KEY) && !JSON.stringify(m).includes(KEY) && !String(m).includes(KEY))
    const form = newClient(sb.partnerCode, n++)
    store.armed = { method: 'insert', mode: 'reject' }
    const e = await rejection(m.createClient(sb.provisioningToken, form))
    assert.ok(e instanceof StorageError, String(e))
    assert.equal((await sb.state()).clients, 0, 'the create request was not sent')
    store.armed = null
    const created = await m.createClient(sb.provisioningToken, form)
    assert.ok((await m.token(created.clientId)).equals(created.accessToken))
    assert.equal((await sb.state()).clients, 1)
  })

  it('a store that answers garbage gets a typed error, never a crash', async () => {
    await sb.reset()
    const c = client()
    const store = faulty(new BetterSqliteStore(file('garbage')))
    const m = new TokenManager(c, store, { key: KEY })
    const created = await m.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++))
    const cases = [
      ['load', 'not a row'], ['load', { environment: 'x' }], ['load', 42], ['load', { environment: 'e', clientId: 'c', revision: -1, data: '{}' }],
      ['load', { environment: 'e', clientId: 'c', revision: 1, data: 'not json' }],
      ['load', { environment: 'e', clientId: 'c', revision: 1.5, data: '{}' }], ['load', { environment: 'e', clientId: 'c', revision: 2 ** 53, data: '{}' }],
      ['load', { environment: 'e', clientId: 'c', revision: '1', data: '{}' }], ['load', { environment: 'e', client_id: 'c', revision: 1, data: '{}' }],
      ['compareAndSwap', 'yes'], ['compareAndSwap', 1], ['compareAndSwap', null], ['list', { rows: [] }], ['list', [1, 2]],
      ['list', [{ environment: 'e', clientId: 'c', revision: -3, data: '{}' }]]
    ]
    for (const [method, value] of cases) {
      store.armed = { method, mode: 'value', value }
      const e = await rejection(method === 'list' ? m.statuses() : method === 'load' ? m.status(created.clientId) : m.renewNow(created.clientId))
      assert.ok(e instanceof StorageError, `${method} ${inspect(value)}: ${e}`)
    }
    store.armed = null
    assert.ok((await m.token(created.clientId)).equals(created.accessToken))
    assert.equal((await m.status(created.clientId)).tokenVersion, 1)
  })

  it('says what a garbage answer should have been', async () => {
    await sb.reset()
    const c = client()
    const store = faulty(new BetterSqliteStore(file('messages')))
    const m = new TokenManager(c, store, { key: KEY })
    const created = await m.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++))
    store.armed = { method: 'compareAndSwap', mode: 'value', value: 'yes' }
    let e = await rejection(m.renewNow(created.clientId))
    assert.match(e.message, /TypeError: compareAndSwap must resolve to a boolean \(it resolved to a string\)/)
    store.armed = { method: 'load', mode: 'value', value: { environment: 'e', clientId: 'c', revision: 0.5, data: '{}' } }
    e = await rejection(m.status(created.clientId))
    assert.match(e.message, /TypeError: load must resolve to rows .*revision/)
    store.armed = null
  })

  it('accepts BigInt numbers and methods that answer synchronously', async () => {
    await sb.reset()
    const c = client()
    const inner = new BetterSqliteStore(file('bigint'))
    const big = (r) => r && { ...r, revision: BigInt(r.revision) }
    const store = {
      load: (env, id) => big(inner.loadStmt.get(env, id) ?? null), // synchronous, BigInt revision
      insert: (row, events) => inner.insert(row, events),
      compareAndSwap: (expected, row, events) => inner.compareAndSwap(expected, row, events),
      delete: (...args) => inner.delete(...args),
      list: async (env) => (await inner.list(env)).map(big),
      events: async (...args) => (await inner.events(...args)).map((e) => ({ ...e, seq: BigInt(e.seq) }))
    }
    const m = new TokenManager(c, store, { key: KEY })
    const created = await m.createClient(sb.provisioningToken, newClient(sb.partnerCode, n++))
    assert.equal((await m.renewNow(created.clientId)).tokenVersion, 2)
    assert.equal((await m.statuses()).length, 1)
    assert.ok((await m.token(created.clientId)).equals(await m.token(created.clientId)))
  })

  it('an object that is not a store is a TypeError naming the missing methods', () => {
    const e = (() => { try { return new TokenManager(client(), { load () {} }) } catch (err) { return err } })()
    assert.ok(e instanceof TypeError)
    assert.match(e.message, /compareAndSwap/)
  })
})
