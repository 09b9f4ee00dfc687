// Runs every tests/scenarios/lifecycle/*.json (globbed at run time) through the public API of the installed
// package: TokenManagers built the way a user builds them, over a MemoryStore shared by the scenario's
// managers or one SQLite file each manager opens itself. Spec: tests/scenarios/lifecycle/README.md.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { inspect } from 'node:util'
import {
  MemoryStore, OnboardingClient, SecretToken, SqliteStore, TokenManager
} from 'confirma-sdk'
import { SCENARIO_DIR, checkScenarioError, startSandbox } from './helpers.mjs'

const DIR = path.join(SCENARIO_DIR, 'lifecycle')
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()

describe('lifecycle scenarios', () => {
  let sb
  before(async () => { sb = await startSandbox() })
  after(async () => { await sb?.stop() })

  it('finds lifecycle scenario files', () => assert.ok(files.length > 0, `no scenarios in ${DIR}`))

  for (const file of files) {
    it(file.replace(/\.json$/, ''), async () => {
      const scenario = JSON.parse(readFileSync(path.join(DIR, file), 'utf8'))
      const runner = new Runner(sb)
      try {
        await runner.run(scenario)
      } finally {
        await runner.close()
      }
    })
  }
})

function statusFields (s) {
  return {
    state: s.state,
    health: s.health,
    tokenVersion: s.tokenVersion,
    consecutiveFailures: s.consecutiveFailures,
    lastError: s.lastError,
    encrypted: s.encrypted,
    hasExpiry: s.expiresAt !== null
  }
}

class Runner {
  constructor (sb) {
    this.sb = sb
    this.saved = new Map()
    this.managers = new Map()
    this.seen = new Map()
    this.dir = null
  }

  async close () {
    for (const m of this.managers.values()) await m.close()
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
  }

  resolve (v) {
    if (typeof v === 'string' && v.startsWith('$')) {
      if (v === '$provisioningToken') return this.sb.provisioningToken
      if (v === '$partnerCode') return this.sb.partnerCode
      const key = v.slice(1)
      if (!this.saved.has(key)) throw new Error(`unknown reference ${v}`)
      return this.saved.get(key)
    }
    if (Array.isArray(v)) return v.map((x) => this.resolve(x))
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.resolve(x)]))
    return v
  }

  /** A reference as a plain string (client ids; tokens revealed only to compare them). */
  text (v) {
    const r = this.resolve(v)
    return r instanceof SecretToken ? r.reveal() : r
  }

  secrets () {
    return [this.sb.provisioningToken, ...[...this.saved.values()].filter((t) => t instanceof SecretToken).map((t) => t.reveal())]
  }

  manager (step) {
    const name = step.manager ?? 'a'
    const m = this.managers.get(name)
    if (!m) throw new Error(`no manager ${name}`)
    return m
  }

  async run (scenario) {
    await this.sb.reset()
    if (scenario.sandboxConfig) await this.sb.admin('POST', '/_sandbox/config', scenario.sandboxConfig)
    const opts = { baseUrl: this.sb.baseUrl, userAgentSuffix: 'node-lifecycle-scenarios' }
    for (const k of ['validation', 'maxRetries', 'timeoutMs', 'connectTimeoutMs', 'totalTimeoutMs']) {
      if (scenario.client?.[k] !== undefined) opts[k] = scenario.client[k]
    }
    this.client = new OnboardingClient(opts)
    const key = randomBytes(32).toString('base64')
    const memory = new MemoryStore({ key })
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'confirma-node-scenario-'))
    for (const name of scenario.managers ?? ['a']) {
      let store
      if (scenario.store === 'memory') store = memory
      else if (scenario.store === 'sqlite') store = SqliteStore.open(path.join(this.dir, 'credentials.db'), { key })
      else throw new Error(`unknown store ${scenario.store}`)
      const m = new TokenManager(this.client, store, { owner: name })
      const seen = []
      m.on('event', (e) => seen.push(e.kind))
      this.managers.set(name, m)
      this.seen.set(name, seen)
    }
    for (const [i, step] of scenario.steps.entries()) {
      try {
        await this.step(step)
      } catch (e) {
        e.message = `step ${i} (${step.op}): ${e.message}`
        throw e
      }
    }
  }

  /** The call of a lifecycle or client step: a promise of `{ token, result }`, or null for other ops. */
  call (step) {
    const token = () => this.resolve(step.token)
    const created = (c) => ({ token: c.accessToken, clientId: c.clientId, result: { hasExpiry: c.tokenExpiresAt !== null, clientId: c.clientId, customerCode: c.customerCode } })
    switch (step.op) {
      case 'createClient':
        // With a manager: created through it, so its credentials are committed to its store (and its events
        // are this manager's); the same core path as `client.createClient(token, form, { store })`.
        if (step.manager !== undefined) return this.manager(step).createClient(token(), this.resolve(step.newClient)).then(created)
        return this.client.createClient(token(), this.resolve(step.newClient)).then(created)
      case 'token':
        return this.manager(step).token(this.text(step.clientId)).then((t) => {
          assert.ok(t instanceof SecretToken)
          return { token: t, result: {} }
        })
      case 'renewNow':
        return this.manager(step).renewNow(this.text(step.clientId)).then((s) => ({ result: statusFields(s) }))
      case 'status':
        return this.manager(step).status(this.text(step.clientId)).then((s) => ({ result: statusFields(s) }))
      case 'reconcile':
        return this.manager(step).reconcile().then((v) => ({ result: { count: v.length, states: v.map((s) => s.state) } }))
      case 'importCredentials':
        return this.manager(step).importCredentials(this.text(step.clientId), token()).then((s) => ({ result: statusFields(s) }))
      case 'validateToken':
        return this.client.validateToken(token()).then((s) => ({ result: { isValid: s.isValid, expired: s.expired, message: s.message } }))
      case 'renewToken':
        return this.client.renewToken(token()).then((r) => ({ token: r.accessToken, result: { hasExpiry: r.expiresAt !== null } }))
      default:
        return null
    }
  }

  async step (step) {
    const call = this.call(step)
    if (call !== null) return this.check(await settle(call), step)
    switch (step.op) {
      case 'fault': return this.sb.fault(step.fault)
      case 'clearFaults': return this.sb.clearFaults()
      case 'advanceClock': return this.sb.admin('POST', '/_sandbox/clock', { advanceSeconds: step.seconds })
      case 'sleep': return new Promise((resolve) => setTimeout(resolve, step.ms ?? 0))
      case 'expectState': {
        const state = await this.sb.state()
        for (const [k, want] of Object.entries(step.state)) assert.deepEqual(state[k], want, `state.${k}`)
        return
      }
      case 'parallel': {
        const calls = step.steps.map((s) => {
          const c = this.call(s)
          if (c === null) throw new Error(`parallel: ${s.op} is not a call`)
          return settle(c)
        })
        const outcomes = await Promise.all(calls)
        for (const [i, s] of step.steps.entries()) {
          try {
            this.check(outcomes[i], s)
          } catch (e) {
            e.message = `parallel step ${i} (${s.op}): ${e.message}`
            throw e
          }
        }
        return
      }
      case 'expectRequests': {
        const state = await this.sb.state()
        assert.equal(state.requestsByPath?.[step.path] ?? 0, step.count, `requests to ${step.path}`)
        return
      }
      case 'expectSame': {
        const [a, b] = [this.text(step.a), this.text(step.b)]
        assert.equal(a === b, step.same, `the two tokens are ${step.same ? 'different' : 'the same'}`)
        return
      }
      case 'expectEvents': {
        const seen = this.seen.get(step.manager ?? 'a')
        if (!seen) throw new Error(`no manager ${step.manager}`)
        const includes = step.includes ?? []
        const excludes = step.excludes ?? []
        // Events reach the EventEmitter as they are published: wait (bounded) for the expected ones.
        const deadline = Date.now() + 10000
        for (;;) {
          const x = excludes.find((k) => seen.includes(k))
          assert.equal(x, undefined, `event ${x} published: ${inspect(seen)}`)
          if (includes.every((k) => seen.includes(k))) return
          if (Date.now() > deadline) assert.fail(`events ${inspect(seen)}, expected to include ${inspect(includes)}`)
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      }
      default: throw new Error(`unknown op ${step.op}`)
    }
  }

  check ({ value, err }, step) {
    const expect = step.expect
    assert.ok(expect, 'step has no expect')
    if (!err) {
      assert.ok(!expect.error, `expected error ${JSON.stringify(expect.error)}, got success ${inspect(value.result)}`)
      for (const [k, v] of Object.entries(expect.result ?? {})) assert.deepEqual(value.result[k], v, `result.${k}`)
      if (step.save) {
        if (value.token) this.saved.set(`${step.save}.accessToken`, value.token)
        if (value.clientId) this.saved.set(`${step.save}.clientId`, value.clientId)
      }
      this.assertNoSecret(`${inspect(value.result, { depth: 5 })} ${JSON.stringify(value.result)} ${String(value.token ?? '')} ${inspect(value.token)}`, 'result')
      return
    }
    if (!expect.error) throw new Error(`expected success, got ${err?.name} (${err?.kind}): ${err?.message}`)
    if (step.save && err?.recoveredToken) this.saved.set(`${step.save}.accessToken`, err.recoveredToken)
    checkScenarioError(err, expect.error, this.secrets())
  }

  assertNoSecret (text, what) {
    for (const s of this.secrets()) assert.ok(!text.includes(s), `a token appears in the ${what}'s output`)
  }
}

function settle (promise) {
  return promise.then((value) => ({ value }), (err) => ({ err }))
}
