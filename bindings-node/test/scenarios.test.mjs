// Runs every tests/scenarios/*.json (globbed at run time) through the public API of the installed package.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { inspect } from 'node:util'
import { OnboardingClient, SecretToken } from 'confirma-sdk'
import { SCENARIO_DIR, checkScenarioError, startSandbox } from './helpers.mjs'

const files = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.json')).sort()

describe('scenarios', () => {
  let sb
  before(async () => { sb = await startSandbox() })
  after(async () => { await sb?.stop() })

  it('finds scenario files', () => assert.ok(files.length > 0, `no scenarios in ${SCENARIO_DIR}`))

  for (const file of files) {
    it(file.replace(/\.json$/, ''), async () => {
      const scenario = JSON.parse(readFileSync(path.join(SCENARIO_DIR, file), 'utf8'))
      await new Runner(sb).run(scenario)
    })
  }
})

class Runner {
  constructor (sb) {
    this.sb = sb
    this.saved = new Map()
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

  secrets () {
    return [this.sb.provisioningToken, ...[...this.saved.values()].map((t) => t.reveal())]
  }

  async run (scenario) {
    await this.sb.reset()
    if (scenario.sandboxConfig) await this.sb.admin('POST', '/_sandbox/config', scenario.sandboxConfig)
    const opts = { baseUrl: this.sb.baseUrl, userAgentSuffix: 'node-scenarios' }
    for (const k of ['validation', 'maxRetries', 'timeoutMs', 'connectTimeoutMs', 'totalTimeoutMs']) {
      if (scenario.client?.[k] !== undefined) opts[k] = scenario.client[k]
    }
    const client = new OnboardingClient(opts)
    for (const [i, step] of scenario.steps.entries()) {
      try {
        await this.step(client, step)
      } catch (e) {
        e.message = `step ${i} (${step.op}): ${e.message}`
        throw e
      }
    }
  }

  async step (client, step) {
    // Tokens are passed as the user would have them: saved ones as SecretToken, literals as strings.
    const token = () => this.resolve(step.token)
    switch (step.op) {
      case 'createClient':
        return this.check(client.createClient(token(), this.resolve(step.newClient)), step, (c) => {
          assert.ok(c.accessToken instanceof SecretToken)
          assert.ok(c.tokenExpiresAt === null || c.tokenExpiresAt instanceof Date)
          return { token: c.accessToken, result: { hasExpiry: c.tokenExpiresAt !== null, clientId: c.clientId, customerCode: c.customerCode } }
        })
      case 'validateToken':
        return this.check(client.validateToken(token()), step, (s) => ({ result: { isValid: s.isValid, expired: s.expired, message: s.message } }))
      case 'renewToken':
        return this.check(client.renewToken(token()), step, (r) => {
          assert.ok(r.accessToken instanceof SecretToken)
          assert.ok(r.expiresAt === null || r.expiresAt instanceof Date)
          return { token: r.accessToken, result: { hasExpiry: r.expiresAt !== null } }
        })
      case 'fault': return this.sb.fault(step.fault)
      case 'clearFaults': return this.sb.clearFaults()
      case 'advanceClock': return this.sb.admin('POST', '/_sandbox/clock', { advanceSeconds: step.seconds })
      case 'sleep': return new Promise((resolve) => setTimeout(resolve, step.ms ?? 0))
      case 'expectState': {
        const state = await this.sb.state()
        for (const [k, want] of Object.entries(step.state)) {
          assert.deepEqual(state[k], want, `state.${k}`)
        }
        return
      }
      default: throw new Error(`unknown op ${step.op}`)
    }
  }

  async check (promise, step, pick) {
    const expect = step.expect
    assert.ok(expect, 'step has no expect')
    let value, err
    try {
      value = await promise
    } catch (e) {
      err = e
    }
    if (!err) {
      assert.ok(!expect.error, `expected error ${JSON.stringify(expect.error)}, got success`)
      const { token, result } = pick(value)
      for (const [k, v] of Object.entries(expect.result ?? {})) assert.deepEqual(result[k], v, `result.${k}`)
      if (step.save) this.saved.set(`${step.save}.accessToken`, token)
      // A result never shows a token, however it is printed.
      this.assertNoSecret(`${inspect(value, { depth: 5 })} ${JSON.stringify(value)} ${String(value.accessToken ?? '')}`, 'result')
      return
    }
    if (!expect.error) throw new Error(`expected success, got ${err?.name} (${err?.kind}): ${err?.message}`)
    // A failed create can still hand over the new client's token (a partial success): `save` keeps it.
    if (step.save && err?.recoveredToken) this.saved.set(`${step.save}.accessToken`, err.recoveredToken)
    checkScenarioError(err, expect.error, this.secrets())
  }

  assertNoSecret (text, what) {
    for (const s of this.secrets()) {
      assert.ok(!text.includes(s), `a token appears in the ${what}'s output`)
    }
  }
}
