// AbortSignal, concurrency, event-loop freedom, ESM/CJS identity — through the installed package.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { getEventListeners, setMaxListeners } from 'node:events'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import * as esm from 'confirma-sdk'
import { AbortError, ConfirmaError, OnboardingClient, SecretToken, ValidationError } from 'confirma-sdk'
import { newClient, startSandbox } from './helpers.mjs'

const require = createRequire(import.meta.url)
const VALIDATE = '/api/v1/partner/validate'

let sb, client
before(async () => {
  sb = await startSandbox()
  client = new OnboardingClient({ baseUrl: sb.baseUrl, maxRetries: 0 })
})
after(async () => { await sb?.stop() })

describe('AbortSignal', () => {
  it('aborting an in-flight call rejects promptly with AbortError and drops the request', async () => {
    await sb.reset()
    // The answer is held back for 20 s; the abort must settle the call long before (real margin on a
    // loaded machine: the bound below is half of that).
    await sb.fault({ path: VALIDATE, kind: 'delay', ms: 20000, times: 1 })
    const ac = new AbortController()
    const started = performance.now()
    const p = client.validateToken('cfis_some_token_value', { signal: ac.signal })
    setTimeout(() => ac.abort(), 100)
    const err = await p.then(() => assert.fail('resolved'), (e) => e)
    const took = performance.now() - started
    assert.ok(err instanceof AbortError, String(err))
    assert.equal(err.name, 'AbortError')
    assert.equal(err.code, 'ABORT_ERR')
    assert.ok(!(err instanceof ConfirmaError))
    assert.equal(err.cause, ac.signal.reason)
    assert.ok(took < 10000, `settled after ${took} ms`)
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0, 'abort listener removed')
    // The client keeps working after an abort.
    await sb.clearFaults()
    assert.equal((await client.validateToken('cfis_some_token_value')).isValid, false)
  })

  it('an already-aborted signal rejects at once without sending anything; cause is the reason', async () => {
    await sb.reset()
    const reason = new Error('user went away')
    const signal = AbortSignal.abort(reason)
    for (const call of [
      () => client.validateToken('cfis_some_token_value', { signal }),
      () => client.renewToken('cfis_some_token_value', { signal }),
      () => client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 1), { signal })
    ]) {
      const err = await call().then(() => assert.fail('resolved'), (e) => e)
      assert.ok(err instanceof AbortError)
      assert.equal(err.cause, reason)
    }
    assert.equal((await sb.state()).requestsServed, 0)
  })

  it('AbortSignal.timeout works and an abort after completion changes nothing', async () => {
    await sb.reset()
    await sb.fault({ path: VALIDATE, kind: 'delay', ms: 3000, times: 1 })
    const err = await client.validateToken('cfis_some_token_value', { signal: AbortSignal.timeout(150) }).catch((e) => e)
    assert.ok(err instanceof AbortError)
    assert.equal(err.cause?.name, 'TimeoutError')
    await sb.clearFaults()
    const ac = new AbortController()
    const c = await client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 2), { signal: ac.signal })
    ac.abort()
    assert.ok(c.accessToken instanceof SecretToken)
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0)
    // One signal shared by many calls leaves no listeners behind.
    const shared = new AbortController()
    setMaxListeners(100, shared.signal)
    await Promise.all(Array.from({ length: 50 }, () => client.validateToken(c.accessToken, { signal: shared.signal })))
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0)
  })

  it('aborting many in-flight calls at once settles them all', async () => {
    await sb.reset()
    await sb.fault({ path: VALIDATE, kind: 'delay', ms: 20000, times: 100 })
    const ac = new AbortController()
    setMaxListeners(200, ac.signal) // one signal for 100 concurrent calls is intended here
    const calls = Array.from({ length: 100 }, () => client.validateToken('cfis_some_token_value', { signal: ac.signal }).catch((e) => e))
    await new Promise((resolve) => setTimeout(resolve, 200))
    const t = performance.now()
    ac.abort()
    const results = await Promise.all(calls)
    assert.ok(results.every((e) => e instanceof AbortError))
    // Far below the 20 s the answers are held back.
    assert.ok(performance.now() - t < 10000)
    // And on the native side: every request future was dropped, not left waiting for its answer.
    const activeCalls = require('confirma-sdk')[Symbol.for('confirma-sdk.activeCalls')]
    for (let i = 0; i < 100 && activeCalls() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(activeCalls(), 0, 'native calls still alive after the abort')
  })

  it('validation errors still win over a live signal', async () => {
    const ac = new AbortController()
    await assert.rejects(client.validateToken('', { signal: ac.signal }), ValidationError)
  })
})

describe('concurrency and the event loop', () => {
  it('hundreds of calls in flight at once all succeed', async () => {
    await sb.reset()
    const many = new OnboardingClient({ baseUrl: sb.baseUrl })
    const created = await Promise.all(Array.from({ length: 120 }, (_, i) => many.createClient(sb.provisioningToken, newClient(sb.partnerCode, 100 + i))))
    assert.equal(new Set(created.map((c) => c.clientId)).size, 120)
    const statuses = await Promise.all(Array.from({ length: 400 }, (_, i) => many.validateToken(created[i % created.length].accessToken)))
    assert.ok(statuses.every((s) => s.isValid))
    const state = await sb.state()
    assert.equal(state.clients, 120)
  })

  it('slow calls never block the event loop', async () => {
    // Asserted on order, not on timing: while 200 calls wait for answers the sandbox holds back for
    // 1.5 s each, timers keep firing (a short timer and several interval ticks run before the first
    // call settles), and the calls overlap (serially they would take 300 s; the bound is 60 s).
    await sb.reset()
    await sb.fault({ path: VALIDATE, kind: 'delay', ms: 1500, times: 200 })
    const events = []
    let ticksBeforeFirst = null
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 5)
    setTimeout(() => events.push('timer'), 20)
    const started = performance.now()
    const calls = Array.from({ length: 200 }, () => client.validateToken('cfis_some_token_value').then((s) => {
      if (ticksBeforeFirst === null) { ticksBeforeFirst = ticks; events.push('first call settled') }
      return s
    }))
    const results = await Promise.all(calls)
    const took = performance.now() - started
    clearInterval(timer)
    assert.ok(results.every((s) => s.isValid === false))
    assert.deepEqual(events, ['timer', 'first call settled'])
    assert.ok(ticksBeforeFirst >= 3, `only ${ticksBeforeFirst} interval ticks before the first call settled`)
    assert.ok(took < 60000, `200 concurrent 1.5 s calls took ${took} ms`)
  })
})

describe('module formats', () => {
  it('require() and import give the same classes, so instanceof works across both', () => {
    const cjs = require('confirma-sdk')
    assert.equal(cjs.OnboardingClient, esm.OnboardingClient)
    assert.equal(cjs.ValidationError, esm.ValidationError)
    assert.equal(cjs.SecretToken, esm.SecretToken)
    assert.equal(esm.default.ConfirmaError, cjs.ConfirmaError)
    assert.ok(new cjs.ValidationError('x') instanceof esm.ConfirmaError)
    assert.equal(typeof cjs.VERSION, 'string')
    assert.equal(typeof cjs.CORE_VERSION, 'string')
  })
})
