// Test helpers: locate the repo, start the real sandbox binary on a free port, talk to its admin API.
// Tests import the SDK as `confirma-sdk` — the package installed from the npm-pack tarball.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { inspect } from 'node:util'
import { ConfirmaError, ERROR_CLASSES, SecretToken, ValidationError } from 'confirma-sdk'

function findRepoRoot () {
  if (process.env.CONFIRMA_REPO_ROOT) return path.resolve(process.env.CONFIRMA_REPO_ROOT)
  let dir = process.cwd()
  for (;;) {
    if (existsSync(path.join(dir, 'tests', 'scenarios')) && existsSync(path.join(dir, 'core'))) return dir
    const up = path.dirname(dir)
    if (up === dir) throw new Error('cannot find the repository root; set CONFIRMA_REPO_ROOT')
    dir = up
  }
}

export const REPO_ROOT = findRepoRoot()
export const SCENARIO_DIR = path.join(REPO_ROOT, 'tests', 'scenarios')
export const SANDBOX_BIN = process.env.CONFIRMA_SANDBOX_BIN ||
  path.join(REPO_ROOT, 'target', 'x86_64-unknown-linux-gnu', 'debug', 'confirma-sandbox')

/** Starts a sandbox on 127.0.0.1:0 and returns its JSON line plus admin helpers. */
export async function startSandbox () {
  if (!existsSync(SANDBOX_BIN)) throw new Error(`sandbox binary not found at ${SANDBOX_BIN} (set CONFIRMA_SANDBOX_BIN)`)
  const child = spawn(SANDBOX_BIN, ['--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('sandbox did not print its JSON line within 20 s')), 20000)
    lines.once('line', (l) => { clearTimeout(timer); resolve(l) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`sandbox exited early (${code})`)) })
    child.once('error', (e) => { clearTimeout(timer); reject(e) })
  })
  lines.on('line', () => {}) // keep draining stdout
  const info = JSON.parse(first)
  const sb = {
    ...info,
    child,
    async admin (method, p, body) {
      const res = await fetch(info.baseUrl + p, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      const text = await res.text()
      if (!res.ok) throw new Error(`admin ${method} ${p} answered ${res.status}: ${text}`)
      return text ? JSON.parse(text) : null
    },
    reset () { return sb.admin('POST', '/_sandbox/reset') },
    fault (f) { return sb.admin('POST', '/_sandbox/faults', f) },
    clearFaults () { return sb.admin('DELETE', '/_sandbox/faults') },
    state () { return sb.admin('GET', '/_sandbox/state') },
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
  return sb
}

/** The n-th valid Finnish Business ID (7 digits, '-', check digit), skipping remainder-1 numbers. */
export function businessId (n) {
  const weights = [7, 9, 10, 5, 8, 4, 2]
  for (let k = 1000000 + n * 2; ; k++) {
    const digits = String(k).padStart(7, '0')
    const sum = [...digits].reduce((s, d, i) => s + Number(d) * weights[i], 0)
    const r = sum % 11
    if (r === 1) continue
    return `${digits}-${r === 0 ? 0 : 11 - r}`
  }
}

/** A valid new client (strict mode) for the sandbox's partner code. */
export function newClient (partnerCode, n = 0, overrides = {}) {
  const id = businessId(n)
  return {
    service: { type: 'LIFECYCLE', partnerCode },
    client: {
      name: `Testiasiakas ${n} Oy`,
      businessCode: id,
      vatRegNbr: 'FI' + id.replace('-', ''),
      postalAddress: 'Testikuja 7',
      postalCode: '00100',
      postalDistrict: 'HELSINKI',
      countryCode: 'FI',
      email: 'laskutus@testiasiakas.fi',
      website: 'https://www.testiasiakas.fi',
      languageCode: 'FI',
      ...overrides
    },
    contacts: [{ role: 'PRIMARY', name: 'Maija Meikäläinen', email: 'maija@testiasiakas.fi' }]
  }
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection (promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  assert.fail('expected the call to fail')
}

/** A sandbox token (`cfis_ppt_<32>`, `cfis_at_<40>`). */
export const TOKEN_SHAPED = /cfis_[a-z]+_[A-Za-z0-9]{16,}/

/**
 * A scenario's error expectation (tests/scenarios/README.md, "Expectations") against the error a call threw:
 * the kind, its public class and code, and each field the expectation names. No output of the error may show
 * one of `secrets`, nor anything token-shaped.
 */
export function checkScenarioError (err, want, secrets) {
  assert.ok(err instanceof ConfirmaError, `not a ConfirmaError: ${inspect(err)}`)
  const shown = `${err.message} ${String(err)} ${inspect(err, { depth: Infinity, showHidden: true })} ${err.stack} ${JSON.stringify(err)}`
  for (const s of secrets) assert.ok(!shown.includes(s), "a token appears in the error's output")
  // Nor any token the scenario does not know of (one the service returned): nothing token-shaped.
  assert.ok(!TOKEN_SHAPED.test(shown), "a token-shaped string appears in the error's output")
  assert.equal(err.kind, want.kind, `kind (${err.message})`)
  assert.ok(err instanceof ERROR_CLASSES[want.kind], `${err.name} is not a ${ERROR_CLASSES[want.kind].name}`)
  assert.equal(err.code, `CONFIRMA_${want.kind.toUpperCase()}`)
  if ('source' in want) {
    assert.ok(err instanceof ValidationError)
    assert.equal(err.source, want.source, 'source')
  }
  if ('fields' in want) assert.deepEqual(Object.keys(err.fieldErrors).sort(), want.fields, `fields (${err.message})`)
  if ('status' in want) assert.equal(err.status, want.status, `status (${err.message})`)
  if ('retryable' in want) assert.equal(err.retryable, want.retryable, 'retryable')
  if ('retryAfterSeconds' in want) assert.equal(Math.floor(err.retryAfter), want.retryAfterSeconds, 'retryAfter')
  if ('recoveredToken' in want) {
    assert.equal(err.recoveredToken instanceof SecretToken, want.recoveredToken, `recoveredToken (${err.message})`)
    if (want.recoveredToken) assert.ok(err.recoveredToken.reveal().length > 0)
  }
  if ('rawResponse' in want) {
    assert.equal(err.rawResponse instanceof SecretToken, want.rawResponse, `rawResponse (${err.message})`)
    if (want.rawResponse) assert.ok(err.rawResponse.reveal().length > 0)
  }
  if ('causeKind' in want) {
    assert.ok(err.cause instanceof ConfirmaError, 'cause is a ConfirmaError')
    assert.equal(err.cause.kind, want.causeKind, `cause kind (${err.message})`)
    assert.ok(err.cause instanceof ERROR_CLASSES[want.causeKind])
  }
}
