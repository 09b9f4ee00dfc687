// Issue 9 through the installed package against the real sandbox: contained panics, absurd options,
// multi-byte input, tokens recovered from half-readable answers, clamped timestamps, aborts after
// sending — and a leak check that looks at everything an error exposes for a token nobody sent.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { inspect } from 'node:util'
import {
  AbortError, ConfigurationError, ConfirmaError, ERROR_CLASSES, InternalError, OnboardingClient,
  OutcomeUnknownError, SecretToken, UnexpectedResponseError, ValidationError
} from 'confirma-sdk'
import { newClient, rejection, startSandbox } from './helpers.mjs'

const require = createRequire(import.meta.url)
const CREATE = '/api/v1/partner/client'
const RENEW = '/api/v1/partner/renew'
const VALIDATE = '/api/v1/partner/validate'
/** Anything shaped like a sandbox token (`cfis_ppt_<32>`, `cfis_at_<40>`) or a bare 40-char token body. */
const TOKEN_SHAPED = /cfis_[a-z]+_[A-Za-z0-9]{16,}/g

let sb, client
before(async () => {
  sb = await startSandbox()
  client = new OnboardingClient({ baseUrl: sb.baseUrl, maxRetries: 0 })
})
after(async () => { await sb?.stop() })

/** A fresh token in the sandbox's access-token shape that the SDK never sees as an argument. */
function fakeAccessToken () {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  let s = 'cfis_at_'
  for (let i = 0; i < 40; i++) s += abc[Math.floor(Math.random() * abc.length)]
  return s
}

/**
 * Fails if any token-shaped string other than `sent` shows anywhere in the error: every own property
 * (enumerable or not, symbols too) of the error and of every object reachable from it (its `cause`
 * chain, fieldErrors, ...), `util.inspect` with hidden properties at any depth, `String(err)`,
 * `err.stack`, `JSON.stringify(err)`. SecretTokens are walked like any object — their value is not a
 * property, so only what they print is looked at.
 */
function assertNoTokenLeak (err, sent = []) {
  const allowed = new Set(sent.map((s) => (s instanceof SecretToken ? s.reveal() : s)))
  const texts = []
  const seen = new Set()
  const walk = (v, at) => {
    if (typeof v === 'string') { texts.push([at, v]); return }
    if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v)) return
    seen.add(v)
    if (v instanceof SecretToken) texts.push([`${at} (printed)`, `${v} ${inspect(v)} ${JSON.stringify(v)}`])
    for (const key of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, key)
      if (d && 'value' in d) walk(d.value, `${at}.${String(key)}`)
    }
  }
  walk(err, 'err')
  for (let c = err, at = 'err'; c; c = c.cause, at += '.cause') {
    texts.push([`String(${at})`, String(c)], [`${at}.stack`, String(c.stack)], [`${at}.message`, String(c.message)])
  }
  texts.push(['inspect', inspect(err, { depth: Infinity, showHidden: true })], ['JSON', JSON.stringify(err) ?? ''])
  for (const [where, text] of texts) {
    for (const m of text.matchAll(TOKEN_SHAPED)) {
      assert.ok(allowed.has(m[0]), `a token nobody sent shows in ${where}`)
    }
  }
}

describe('panic containment', () => {
  const probe = require('confirma-sdk')[Symbol.for('confirma-sdk.panicProbe')]

  for (const mode of ['sync', 'async']) {
    it(`a panic in the native layer (${mode}) is an InternalError, and the SDK keeps working`, { timeout: 20000 }, async () => {
      assert.equal(typeof probe, 'function')
      const err = await rejection(probe(mode))
      assert.ok(err instanceof InternalError, inspect(err))
      assert.ok(err instanceof ConfirmaError && err instanceof Error)
      assert.equal(err.name, 'InternalError')
      assert.equal(err.code, 'CONFIRMA_INTERNAL')
      assert.equal(err.kind, 'internal')
      assert.equal(err.status, null)
      assert.equal(err.retryable, false)
      assert.equal(ERROR_CLASSES.internal, InternalError)
      assert.match(err.message, /panic was contained/)
      assert.match(err.message, new RegExp(`panic probe: ${mode}`))
      await sb.reset()
      assert.equal((await client.validateToken('cfis_some_token_value')).isValid, false)
    })
  }
})

describe('the wake-up path', () => {
  const failNextWakeups = require('confirma-sdk')[Symbol.for('confirma-sdk.failNextWakeups')]

  it('a refused wake-up of the JS thread is retried: a lone call still settles, and so do many', { timeout: 20000 }, async () => {
    await sb.reset()
    // One round of attempts is 3: 7 refusals fail two rounds, so only the delayed retry can deliver this
    // result (no other call completes to wake the thread).
    failNextWakeups(7)
    assert.equal((await client.validateToken('cfis_some_token_value')).isValid, false)
    failNextWakeups(20)
    const all = await Promise.all(Array.from({ length: 30 }, () => client.validateToken('cfis_some_token_value')))
    assert.ok(all.every((s) => s.isValid === false))
    failNextWakeups(0)
    assert.equal((await client.validateToken('cfis_some_token_value')).isValid, false)
  })
})

describe('multi-byte input', () => {
  it('a VAT number "€1234567" (strict, FI) is a ValidationError, sent nowhere', { timeout: 20000 }, async () => {
    await sb.reset()
    for (const vat of ['€1234567', 'FI€234567', '€€€€€€€€€€', 'FI1234567€', 'ＦＩ12345678']) {
      const err = await rejection(client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 1, { vatRegNbr: vat })))
      assert.ok(err instanceof ValidationError, `${vat}: ${inspect(err)}`)
      assert.equal(err.source, 'client')
      assert.ok('client.vatRegNbr' in err.fieldErrors, `${vat}: ${Object.keys(err.fieldErrors)}`)
    }
    for (const code of ['€€€€€€€-€', '123456€-7', 'ÅÄÖ']) {
      const err = await rejection(client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 1, { businessCode: code })))
      assert.ok(err instanceof ValidationError, `${code}: ${inspect(err)}`)
    }
    assert.equal((await sb.state()).requestsServed, 0)
  })
})

describe('duration options', () => {
  it('NaN, Infinity, negative, 0, huge, over 24 h and non-numbers are ConfigurationErrors', () => {
    const bad = [NaN, Infinity, -Infinity, -1, -0.5, 0, -0, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE,
      86_400_001, 1e300, '10', true, {}, [5]]
    for (const key of ['timeoutMs', 'connectTimeoutMs', 'totalTimeoutMs']) {
      for (const v of bad) {
        let err
        try {
          new OnboardingClient({ baseUrl: sb.baseUrl, [key]: v }) // eslint-disable-line no-new
        } catch (e) {
          err = e
        }
        assert.ok(err instanceof ConfigurationError, `${key}: ${inspect(v)} gave ${inspect(err)}`)
        assert.equal(err.code, 'CONFIRMA_CONFIGURATION')
        assert.ok(err.message.includes(key), `${key}: ${inspect(v)}: ${err.message}`)
      }
      assert.throws(() => new OnboardingClient({ baseUrl: sb.baseUrl, [key]: 10n }), ConfigurationError)
    }
    for (const v of [Number.MAX_SAFE_INTEGER, 11, 1.5, -1, NaN]) {
      assert.throws(() => new OnboardingClient({ baseUrl: sb.baseUrl, maxRetries: v }), ConfigurationError, inspect(v))
    }
    for (const v of [0, 1023, 64 * 1024 * 1024 + 1, Number.MAX_SAFE_INTEGER, 1.5, -1, NaN, 'big']) {
      assert.throws(() => new OnboardingClient({ baseUrl: sb.baseUrl, maxResponseBytes: v }), ConfigurationError, inspect(v))
    }
  })

  it('the bounds themselves are accepted, and a client with them works', async () => {
    await sb.reset()
    const edge = new OnboardingClient({
      baseUrl: sb.baseUrl, timeoutMs: 86_400_000, connectTimeoutMs: 0.5 + 10_000, totalTimeoutMs: 86_400_000,
      maxRetries: 10, maxResponseBytes: 1024
    })
    assert.equal((await edge.validateToken('cfis_some_token_value')).isValid, false)
  })
})

describe('tokens in answers that cannot be read completely', () => {
  it('a 2xx create without clientId: OutcomeUnknownError carrying the new token as recoveredToken, never printed', async () => {
    await sb.reset()
    const fresh = fakeAccessToken()
    await sb.fault({ path: CREATE, kind: 'status', status: 201, contentType: 'application/json', body: JSON.stringify({ accessToken: fresh }) })
    const err = await rejection(client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 2)))
    assertNoTokenLeak(err, [sb.provisioningToken])
    assert.ok(err instanceof OutcomeUnknownError, inspect(err))
    assert.equal(err.operation, 'create_client')
    assert.ok(err.cause instanceof UnexpectedResponseError, inspect(err.cause))
    assert.equal(err.cause.status, 201)
    assert.ok(err.recoveredToken instanceof SecretToken)
    assert.equal(err.recoveredToken.reveal(), fresh)
    assert.ok(err.cause.recoveredToken.equals(fresh))
    assert.ok(err.rawResponse === null || err.rawResponse instanceof SecretToken)
    assert.ok(!err.cause.bodyExcerpt, 'no success body in the excerpt')
  })

  it('an odd 2xx renew answer: OutcomeUnknownError keeping the whole answer as rawResponse', async () => {
    await sb.reset()
    const created = await client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 3))
    const fresh = fakeAccessToken()
    await sb.fault({ path: RENEW, kind: 'status', status: 200, contentType: 'application/json', body: JSON.stringify({ result: { newKey: fresh } }) })
    const err = await rejection(client.renewToken(created.accessToken))
    assertNoTokenLeak(err, [created.accessToken])
    assert.ok(err instanceof OutcomeUnknownError, inspect(err))
    assert.equal(err.operation, 'renew_token')
    assert.equal(err.recoveredToken, null)
    assert.ok(err.rawResponse instanceof SecretToken)
    assert.equal(JSON.parse(err.rawResponse.reveal()).result.newKey, fresh)
  })

  it('error bodies that carry tokens are redacted everywhere in the error', async () => {
    await sb.reset()
    const fresh = fakeAccessToken()
    const cases = [
      [VALIDATE, 400, { message: fresh }],
      [VALIDATE, 500, { accessToken: fresh, detail: `token ${fresh}` }],
      [CREATE, 400, { title: 'bad', errors: { token: [fresh] } }],
      [CREATE, 502, `upstream said ${fresh}`],
      [RENEW, 401, { Message: fresh }]
    ]
    for (const [path, status, body] of cases) {
      await sb.fault({ path, kind: 'status', status, body: typeof body === 'string' ? body : JSON.stringify(body), contentType: typeof body === 'string' ? 'text/plain' : 'application/json' })
      const call = path === VALIDATE
        ? client.validateToken('cfis_some_token_value')
        : path === RENEW ? client.renewToken('cfis_some_token_value') : client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 4))
      const err = await rejection(call)
      assertNoTokenLeak(err, [sb.provisioningToken])
      assert.ok(err instanceof ConfirmaError, inspect(err))
      assert.equal(err.recoveredToken, null, `${path} ${status}`)
    }
  })

  it('sandbox fault partial_success: the client exists and the recovered token works', async (t) => {
    await sb.reset()
    try {
      await sb.fault({ path: CREATE, kind: 'partial_success' })
    } catch (e) {
      if (/\b400\b/.test(e.message)) return t.skip('this sandbox does not know the partial_success fault yet (branch wt/sandbox)')
      throw e
    }
    const err = await rejection(client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 5)))
    assert.ok(err instanceof OutcomeUnknownError, inspect(err))
    assert.ok(err.cause instanceof UnexpectedResponseError)
    assert.ok(err.recoveredToken instanceof SecretToken)
    assertNoTokenLeak(err, [sb.provisioningToken])
    const status = await client.validateToken(err.recoveredToken)
    assert.equal(status.isValid, true)
    assert.equal((await sb.state()).clients, 1)
    // The stored token is a normal token: it renews.
    const renewed = await client.renewToken(err.recoveredToken)
    assert.equal((await client.validateToken(renewed.accessToken)).isValid, true)

    await sb.fault({ path: RENEW, kind: 'partial_success' })
    const rerr = await rejection(client.renewToken(renewed.accessToken))
    assert.ok(rerr instanceof OutcomeUnknownError, inspect(rerr))
    assert.ok(rerr.rawResponse instanceof SecretToken)
    assertNoTokenLeak(rerr, [renewed.accessToken])
    const newKey = JSON.parse(rerr.rawResponse.reveal()).result.newKey
    assert.equal((await client.validateToken(newKey)).isValid, true)
  })
})

describe('timestamps', () => {
  it('a server timestamp outside 1970..9999 is clamped; the Date is always valid', async () => {
    for (const [sent, want] of [['0001-01-01T00:00:00Z', 0], ['1969-12-31T23:59:59Z', 0], ['9999-12-31T23:59:59Z', 253402300799000]]) {
      await sb.reset()
      const body = { clientId: 'c-1', customerCode: 'CUST1', paymentReferencePrefix: '1', accessToken: fakeAccessToken(), tokenExpiresAt: sent }
      await sb.fault({ path: CREATE, kind: 'status', status: 201, contentType: 'application/json', body: JSON.stringify(body) })
      const c = await client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 6))
      assert.ok(c.tokenExpiresAt instanceof Date)
      assert.equal(c.tokenExpiresAt.getTime(), want, sent)
      assert.equal(typeof c.tokenExpiresAt.toISOString(), 'string')
    }
  })
})

describe('aborting after sending', () => {
  it('an in-flight create or renew aborts with outcomeUnknown: true; validate and pre-aborted calls with false', async () => {
    await sb.reset()
    const created = await client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 7))
    await sb.fault([{ path: CREATE, kind: 'delay', ms: 10000 }, { path: RENEW, kind: 'delay', ms: 10000 }, { path: VALIDATE, kind: 'delay', ms: 10000 }])
    const calls = {
      create: (signal) => client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 8), { signal }),
      renew: (signal) => client.renewToken(created.accessToken, { signal }),
      validate: (signal) => client.validateToken(created.accessToken, { signal })
    }
    for (const [name, call] of Object.entries(calls)) {
      const ac = new AbortController()
      const p = call(ac.signal)
      ac.abort() // the call is in flight: it has been handed to the native layer
      const err = await rejection(p)
      assert.ok(err instanceof AbortError, inspect(err))
      assert.equal(err.outcomeUnknown, name !== 'validate', name)
      if (err.outcomeUnknown) assert.match(err.message, /outcome is unknown/)
      const early = await rejection(call(AbortSignal.abort()))
      assert.equal(early.outcomeUnknown, false, name)
    }
  })
})
