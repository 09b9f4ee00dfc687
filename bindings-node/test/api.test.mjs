// Error classes and fields, SecretToken redaction, options, argument types — through the installed package.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import * as sdk from 'confirma-sdk'
import {
  AbortError, AuthenticationError, ConfigurationError, ConfirmaError, ConflictError, NetworkError, OnboardingClient,
  OutcomeUnknownError, PermissionDeniedError, RateLimitError, SecretToken, ServiceUnavailableError, TimeoutError,
  UnexpectedResponseError, ValidationError
} from 'confirma-sdk'
import { newClient, rejection, startSandbox } from './helpers.mjs'

let sb, client
before(async () => {
  sb = await startSandbox()
  client = new OnboardingClient({ baseUrl: sb.baseUrl, maxRetries: 0 })
})
after(async () => { await sb?.stop() })

function noSecret (err, ...secrets) {
  const shown = `${err.message}\n${String(err)}\n${err.stack}\n${inspect(err, { depth: 6 })}\n${JSON.stringify(err)}`
  for (const s of secrets) assert.ok(!shown.includes(typeof s === 'string' ? s : s.reveal()), 'a token leaked into the error output')
}

describe('error classes', () => {
  it('exports every class with a stable code and kind', () => {
    const expected = {
      ValidationError: 'validation', AuthenticationError: 'authentication', PermissionDeniedError: 'permission_denied',
      ConflictError: 'conflict', RateLimitError: 'rate_limited', ServiceUnavailableError: 'service_unavailable',
      TimeoutError: 'timeout', NetworkError: 'network', OutcomeUnknownError: 'outcome_unknown',
      UnexpectedResponseError: 'unexpected_response', ConfigurationError: 'configuration', InternalError: 'internal',
      StorageError: 'storage', CredentialsLostError: 'credentials_lost'
    }
    for (const [name, kind] of Object.entries(expected)) {
      const Cls = sdk[name]
      assert.equal(typeof Cls, 'function', name)
      assert.equal(sdk.ERROR_CLASSES[kind], Cls)
      const e = new Cls('boom', { status: 500 })
      assert.ok(e instanceof Cls && e instanceof ConfirmaError && e instanceof Error)
      assert.equal(e.name, name)
      assert.equal(e.code, `CONFIRMA_${kind.toUpperCase()}`)
      assert.equal(e.kind, kind)
      assert.equal(e.status, 500)
      assert.equal(e.requestId, null)
      assert.equal(e.retryable, false)
      assert.ok(!(e instanceof AbortError))
      assert.equal(e.recoveredToken, null)
      assert.equal(e.rawResponse, null)
    }
    assert.deepEqual(Object.keys(sdk.ERROR_CLASSES).sort(), Object.values(expected).sort())
  })

  it('client-side validation: ValidationError with field paths, nothing sent', async () => {
    await sb.reset()
    const bad = newClient(sb.partnerCode, 1, { email: 'not-an-email', postalCode: '1' })
    bad.contacts[0].name = ''
    const err = await rejection(client.createClient(sb.provisioningToken, bad))
    assert.ok(err instanceof ValidationError)
    assert.equal(err.code, 'CONFIRMA_VALIDATION')
    assert.equal(err.source, 'client')
    assert.equal(err.status, null)
    assert.equal(err.retryable, false)
    assert.deepEqual(Object.keys(err.fieldErrors).sort(), ['client.email', 'client.postalCode', 'contacts[0].name'])
    assert.ok(err.fieldErrors['client.email'].every((m) => typeof m === 'string' && m.length > 0))
    assert.match(err.message, /client\.email/)
    assert.equal((await sb.state()).requestsServed, 0)
    noSecret(err, sb.provisioningToken)
  })

  it('server-side validation (lenient client): source server, status 400, request id', async () => {
    await sb.reset()
    const lenient = new OnboardingClient({ baseUrl: sb.baseUrl, validation: 'lenient' })
    const err = await rejection(lenient.createClient(sb.provisioningToken, newClient(sb.partnerCode, 2, { businessCode: '123456-7', vatRegNbr: 'FI1234567' })))
    assert.ok(err instanceof ValidationError, inspect(err))
    assert.equal(err.source, 'server')
    assert.ok([400, 422].includes(err.status))
    assert.equal(typeof err.requestId, 'string')
    assert.ok(Object.keys(err.fieldErrors).length > 0)
  })

  it('authentication, permission denied and conflict', async () => {
    await sb.reset()
    const unknown = 'cfis_unknown_token_1234567890'
    let err = await rejection(client.createClient(unknown, newClient(sb.partnerCode, 3)))
    assert.ok(err instanceof AuthenticationError, inspect(err))
    assert.equal(err.status, 401)
    assert.equal(err.code, 'CONFIRMA_AUTHENTICATION')
    noSecret(err, unknown, sb.provisioningToken)

    const created = await client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 3))
    err = await rejection(client.createClient(created.accessToken, newClient(sb.partnerCode, 4)))
    assert.ok(err instanceof PermissionDeniedError, inspect(err))
    assert.equal(err.status, 403)
    noSecret(err, created.accessToken)

    err = await rejection(client.createClient(new SecretToken(sb.provisioningToken), newClient(sb.partnerCode, 3)))
    assert.ok(err instanceof ConflictError, inspect(err))
    assert.equal(err.status, 409)
    assert.equal(err.code, 'CONFIRMA_CONFLICT')
    assert.equal(err.retryable, false)
  })

  it('rate limit: RateLimitError with retryAfter', async () => {
    await sb.reset()
    const created = await client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 5))
    await sb.fault({ path: '/api/v1/partner/validate', kind: 'status', status: 429, retryAfter: 7, times: 1 })
    const err = await rejection(client.validateToken(created.accessToken))
    assert.ok(err instanceof RateLimitError, inspect(err))
    assert.equal(err.status, 429)
    assert.equal(err.retryAfter, 7)
    assert.equal(err.retryAfterMs, 7000)
    assert.equal(err.retryable, true)
  })

  it('503: ServiceUnavailableError, retryable', async () => {
    await sb.reset()
    await sb.fault({ path: '/api/v1/partner/validate', kind: 'status', status: 503, times: 1 })
    const err = await rejection(client.validateToken('cfis_some_token_value'))
    assert.ok(err instanceof ServiceUnavailableError, inspect(err))
    assert.equal(err.status, 503)
    assert.equal(err.retryable, true)
  })

  it('outcome unknown: cause is a typed ConfirmaError', async () => {
    await sb.reset()
    await sb.fault({ path: '/api/v1/partner/client', kind: 'status', status: 500, times: 1 })
    const err = await rejection(client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 6)))
    assert.ok(err instanceof OutcomeUnknownError, inspect(err))
    assert.equal(err.code, 'CONFIRMA_OUTCOME_UNKNOWN')
    assert.equal(err.operation, 'create_client')
    assert.ok(err.cause instanceof ServiceUnavailableError)
    assert.equal(err.cause.status, 500)
    assert.match(inspect(err), /\[cause\]/)
    noSecret(err, sb.provisioningToken)
  })

  it('timeout and unexpected response', async () => {
    await sb.reset()
    const quick = new OnboardingClient({ baseUrl: sb.baseUrl, timeoutMs: 150, maxRetries: 0 })
    await sb.fault({ path: '/api/v1/partner/validate', kind: 'delay', ms: 2000, times: 1 })
    let err = await rejection(quick.validateToken('cfis_some_token_value'))
    assert.ok(err instanceof TimeoutError, inspect(err))
    assert.equal(err.retryable, true)
    await sb.reset()
    await sb.fault({ path: '/api/v1/partner/validate', kind: 'garbage', times: 1 })
    err = await rejection(client.validateToken('cfis_some_token_value'))
    assert.ok(err instanceof UnexpectedResponseError, inspect(err))
    assert.equal(typeof err.bodyExcerpt, 'string')
  })

  it('network: connection refused is a NetworkError with connect=true', async () => {
    const dead = new OnboardingClient({ baseUrl: 'http://127.0.0.1:1', maxRetries: 0 })
    const err = await rejection(dead.validateToken('cfis_some_token_value'))
    assert.ok(err instanceof NetworkError, inspect(err))
    assert.equal(err.connect, true)
    assert.equal(err.status, null)
  })
})

describe('SecretToken and results', () => {
  it('is redacted in toString, template literals, JSON and inspect; reveal() gives the value', () => {
    const raw = 'cfis_canary_secret_value_42'
    const t = new SecretToken(raw)
    assert.equal(String(t), '[REDACTED]')
    assert.equal(`${t}`, '[REDACTED]')
    assert.equal(t + '', '[REDACTED]')
    assert.equal(JSON.stringify({ t }), '{"t":"[REDACTED]"}')
    assert.equal(inspect(t), 'SecretToken([REDACTED])')
    assert.ok(!inspect({ nested: { t } }, { depth: 10, showHidden: true }).includes(raw))
    assert.equal(Object.keys(t).length, 0)
    assert.equal(t.reveal(), raw)
    assert.ok(t.equals(raw) && t.equals(new SecretToken(raw)) && !t.equals('other'))
    assert.equal(SecretToken.from(t), t)
    assert.throws(() => new SecretToken(42), TypeError)
  })

  it('results carry SecretTokens and Dates; printing them never shows a token', async () => {
    await sb.reset()
    const c = await client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 7))
    assert.ok(c.accessToken instanceof SecretToken)
    assert.ok(c.tokenExpiresAt instanceof Date && c.tokenExpiresAt > new Date())
    for (const k of ['clientId', 'customerCode', 'paymentReferencePrefix']) assert.equal(typeof c[k], 'string')
    const raw = c.accessToken.reveal()
    assert.ok(raw.length > 10)
    for (const shown of [inspect(c, { depth: 5 }), JSON.stringify(c), `${c.accessToken}`]) assert.ok(!shown.includes(raw))
    const status = await client.validateToken(c.accessToken)
    assert.deepEqual({ ...status }, { isValid: true, expired: false, message: 'Token is valid' })
    const renewed = await client.renewToken(raw) // a plain string works too
    assert.ok(renewed.accessToken instanceof SecretToken && !renewed.accessToken.equals(raw))
    assert.ok(renewed.expiresAt === null || renewed.expiresAt instanceof Date)
    assert.ok(!JSON.stringify(renewed).includes(renewed.accessToken.reveal()))
    assert.equal((await client.validateToken(renewed.accessToken)).isValid, true)
  })
})

describe('options and arguments', () => {
  it('builds for staging and production; the User-Agent names node and the binding', () => {
    const c = new OnboardingClient({ environment: 'production', userAgentSuffix: 'my-app/1.2' })
    assert.equal(c.baseUrl, 'https://integrations.confirmafinance.com/')
    assert.match(c.userAgent, /^confirma-sdk\/\S+ node\/\d+\.\d+\.\d+ confirma-node\/\S+ my-app\/1\.2$/)
    assert.equal(new OnboardingClient({ environment: 'staging' }).baseUrl, 'https://staging-integrations.confirmafinance.com/')
    assert.equal(new OnboardingClient({ baseUrl: new URL(sb.baseUrl) }).baseUrl, sb.baseUrl + '/')
  })

  it('no environment is staging (the core default); the core accepts its spellings', () => {
    for (const o of [undefined, {}, { environment: undefined }, { environment: null }]) {
      assert.equal(new OnboardingClient(o).baseUrl, 'https://staging-integrations.confirmafinance.com/', inspect(o))
    }
    for (const env of ['PRODUCTION', ' production ', 'prod']) {
      assert.equal(new OnboardingClient({ environment: env }).baseUrl, 'https://integrations.confirmafinance.com/', env)
    }
  })

  it('bad options are ConfigurationErrors; a non-object is a TypeError', () => {
    const bad = [
      { environment: 'dev' }, { environment: 42 }, { baseUrl: 'http://example.com' }, { baseUrl: 'nonsense' },
      { environment: 'staging', timeoutMs: -1 }, { environment: 'staging', timeoutMs: '10' },
      { environment: 'staging', timeoutMs: Infinity }, { environment: 'staging', maxRetries: 1.5 },
      { environment: 'staging', maxRetries: 11 }, { environment: 'staging', validation: 'loose' },
      { environment: 'staging', timeout: 5 }, { environment: 'staging', userAgentSuffix: 'bad\nua' },
      { environment: 'staging', proxy: 'not a url' }, { environment: 'staging', rootCertificatesPem: 'garbage' }
    ]
    for (const o of bad) {
      assert.throws(() => new OnboardingClient(o), (e) => e instanceof ConfigurationError && e.code === 'CONFIRMA_CONFIGURATION', inspect(o))
    }
    for (const o of [null, 'staging', 42]) assert.throws(() => new OnboardingClient(o), TypeError)
  })

  it('token arguments: string or SecretToken; missing → ValidationError; other types → TypeError', async () => {
    for (const t of [undefined, null, '']) {
      const err = await rejection(client.validateToken(t))
      assert.ok(err instanceof ValidationError)
      assert.deepEqual(Object.keys(err.fieldErrors), ['token'])
    }
    const huge = 'x'.repeat(1_000_000)
    const err = await rejection(client.renewToken(huge))
    assert.ok(err instanceof ValidationError && 'token' in err.fieldErrors)
    assert.ok(!err.message.includes(huge.slice(0, 100)))
    for (const t of [42, {}, ['a'], Symbol('x')]) await assert.rejects(client.validateToken(t), TypeError)
    await assert.rejects(client.validateToken('tok', 'not options'), TypeError)
    await assert.rejects(client.validateToken('tok', { signal: {} }), TypeError)
  })

  it('newClient of the wrong shape is a ValidationError with paths from the core', async () => {
    for (const v of [undefined, null, 'x', 42, []]) {
      const err = await rejection(client.createClient(sb.provisioningToken, v))
      assert.ok(err instanceof ValidationError, inspect(v))
      assert.deepEqual(Object.keys(err.fieldErrors), ['$'])
    }
    const cyclic = newClient(sb.partnerCode, 8)
    cyclic.self = cyclic
    await assert.rejects(client.createClient(sb.provisioningToken, cyclic), TypeError)
    const err = await rejection(client.createClient(sb.provisioningToken, { service: { type: 'LIFECYCLE', partnerCode: sb.partnerCode }, client: { name: 'x'.repeat(5_000_000) }, contacts: [] }))
    assert.ok(err instanceof ValidationError)
  })
})
