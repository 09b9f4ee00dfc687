// The cross-language parity runner (tests/parity/README.md): through the public API, dumps every core error
// sample as the public error class and the outcome of every configuration in tests/parity/configs.json, and
// writes <repo>/target/parity/node.json for tests/parity/compare.py.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { inspect } from 'node:util'
import { ConfigurationError, ConfirmaError, ERROR_CLASSES, OnboardingClient, SecretToken } from 'confirma-sdk'
import { REPO_ROOT } from './helpers.mjs'

const sdk = createRequire(import.meta.url)('confirma-sdk')
const sampleErrors = sdk[Symbol.for('confirma-sdk.sampleErrors')]
const DESCRIBE_CONFIG = Symbol.for('confirma-sdk.describeConfig')

/** Seconds in configs.json → the option as a Node caller writes it. */
const OPTION = {
  timeout: ['timeoutMs', (s) => s * 1000],
  connectTimeout: ['connectTimeoutMs', (s) => s * 1000],
  totalTimeout: ['totalTimeoutMs', (s) => s * 1000]
}
const SPECIAL = { NaN, Infinity, '-Infinity': -Infinity }

function nodeOptions (options) {
  const out = {}
  for (let [key, value] of Object.entries(options)) {
    if (typeof value === 'string' && value in SPECIAL) value = SPECIAL[value]
    const [name, convert] = OPTION[key] ?? [key, (v) => v]
    out[name] = convert(value)
  }
  return out
}

const secret = (t) => (t instanceof SecretToken ? t.reveal() : null)

/** An error as the README's ErrorDump, read from the public error object. */
function dumpError (e) {
  return {
    kind: e.kind,
    code: e.code,
    message: e.detail,
    display: e.message,
    status: e.status,
    requestId: e.requestId,
    retryable: e.retryable,
    retryAfterMs: e.retryAfterMs ?? null,
    fieldErrors: e.fieldErrors ? { ...e.fieldErrors } : {},
    issues: (e.issues ?? []).map((i) => ({ field: i.field, code: i.code, params: { ...i.params }, message: i.message, userMessage: i.userMessage })),
    source: e.source ?? null,
    operation: e.operation ?? null,
    connect: e.connect ?? null,
    bodyExcerpt: e.bodyExcerpt ?? null,
    recoveredToken: secret(e.recoveredToken),
    rawResponse: secret(e.rawResponse),
    cause: e.cause instanceof ConfirmaError ? dumpError(e.cause) : null
  }
}

function configOutcome (c) {
  if (c.skip?.node) return { skipped: c.skip.node }
  try {
    const client = new OnboardingClient(nodeOptions(c.options))
    return { ok: true, config: client[DESCRIBE_CONFIG] }
  } catch (e) {
    assert.ok(e instanceof ConfigurationError, `${c.name}: ${inspect(e)}`)
    return { ok: false, code: e.code, kind: e.kind, message: e.detail }
  }
}

describe('parity runner', () => {
  it('writes target/parity/node.json: every core error sample and every configuration case', () => {
    const samples = sampleErrors()
    assert.ok(samples.length >= 12, `only ${samples.length} samples`)
    const errors = {}
    for (const [name, e] of samples) {
      assert.ok(e instanceof ConfirmaError, name)
      assert.equal(ERROR_CLASSES[e.kind], e.constructor, `${name} is its kind's public class`)
      errors[name] = dumpError(e)
    }
    assert.equal(Object.keys(errors).length, samples.length, 'sample names are unique')
    assert.deepEqual(new Set(Object.values(errors).map((e) => e.kind)), new Set(Object.keys(ERROR_CLASSES)), 'every kind has a sample')
    // The sample secrets are fake ones, carried as SecretTokens and revealed only in the dump.
    const recovered = samples.find(([, e]) => e.recoveredToken !== null)?.[1]
    assert.ok(recovered && !inspect(recovered, { depth: Infinity }).includes(recovered.recoveredToken.reveal()))
    assert.equal(errors.rate_limited?.retryAfterMs, 2500)
    assert.equal(errors.internal_panic?.kind, 'internal')

    const { cases } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tests', 'parity', 'configs.json'), 'utf8'))
    const configs = {}
    for (const c of cases) configs[c.name] = configOutcome(c)
    assert.equal(Object.keys(configs).length, cases.length)
    assert.equal(configs.defaults.ok, true)
    assert.equal(configs.defaults.config.environment, 'staging', 'no environment is staging')
    assert.match(configs.defaults.config.userAgentSuffix, /^node\/\d+\.\d+\.\d+ confirma-node\/\S+$/)
    assert.equal(configs.timeouts_custom.config.connectTimeoutMs, 1500, 'seconds became milliseconds')
    assert.equal(configs.environment_unknown.ok, false)
    assert.match(configs.timeout_nan.message, /timeoutMs/, 'errors name the option as Node spells it')

    const out = path.join(REPO_ROOT, 'target', 'parity', 'node.json')
    mkdirSync(path.dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify({ language: 'node', errors, configs }, null, 2) + '\n')
  })
})
