// worker_threads and process lifetime — through the installed package.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { OnboardingClient } from 'confirma-sdk'
import { newClient, startSandbox } from './helpers.mjs'

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

let sb
before(async () => { sb = await startSandbox() })
after(async () => { await sb?.stop() })

function runWorker (n, loops = 20) {
  return new Promise((resolve, reject) => {
    const w = new Worker(fixture('worker.mjs'), {
      workerData: { baseUrl: sb.baseUrl, provisioningToken: sb.provisioningToken, newClient: newClient(sb.partnerCode, n), loops }
    })
    let msg
    w.once('message', (m) => { msg = m })
    w.once('error', reject)
    w.once('exit', (code) => (code === 0 && msg ? resolve(msg) : reject(new Error(`worker exited ${code} without a result`))))
  })
}

describe('worker_threads', () => {
  it('the SDK works in several workers at once, and in the main thread after they exit', async () => {
    await sb.reset()
    const results = await Promise.all([1, 2, 3, 4].map((n) => runWorker(n)))
    for (const r of results) {
      assert.equal(r.valid, 20)
      assert.ok(r.renewedIsSecret)
      assert.ok(r.conflict)
    }
    assert.equal(new Set(results.map((r) => r.clientId)).size, 4)
    // Workers have exited (their environments torn down); the shared native runtime still serves this thread.
    const main = new OnboardingClient({ baseUrl: sb.baseUrl })
    for (const r of results) assert.equal((await main.validateToken(r.token)).isValid, true)
    // And new workers still start fine.
    const again = await runWorker(9, 2)
    assert.equal(again.valid, 2)
  })

  it('terminating a worker with calls in flight does not disturb the process', async () => {
    await sb.reset()
    await sb.fault({ path: '/api/v1/partner/client', kind: 'delay', ms: 2000, times: 1 })
    const w = new Worker(fixture('worker.mjs'), {
      workerData: { baseUrl: sb.baseUrl, provisioningToken: sb.provisioningToken, newClient: newClient(sb.partnerCode, 20), loops: 1 }
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    await w.terminate()
    await sb.clearFaults()
    const main = new OnboardingClient({ baseUrl: sb.baseUrl })
    assert.equal((await main.validateToken('cfis_some_token_value')).isValid, false)
  })
})

function runNode (args, timeoutMs = 15000, env = undefined) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env === undefined ? process.env : { ...process.env, ...env } })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`process did not exit within ${timeoutMs} ms: ${out} ${err}`)) }, timeoutMs)
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, out, err, ms: Date.now() - started }) })
  })
}

describe('process lifetime', () => {
  for (const [mode, expected] of [['idle', 'idle'], ['calls', 'done false'], ['pending', 'settled false'], ['aborted', 'aborted AbortError']]) {
    it(`exits by itself when nothing is pending (${mode})`, async () => {
      await sb.reset()
      if (mode === 'pending') await sb.fault({ path: '/api/v1/partner/validate', kind: 'delay', ms: 700, times: 1 })
      if (mode === 'aborted') await sb.fault({ path: '/api/v1/partner/validate', kind: 'delay', ms: 10000, times: 1 })
      const r = await runNode([fixture('exit-idle.mjs'), sb.baseUrl, mode])
      assert.equal(r.code, 0, r.err)
      assert.equal(r.out.trim(), expected)
      // The aborted request must not keep the process alive for the 10 s delay.
      if (mode === 'aborted') assert.ok(r.ms < 5000, `took ${r.ms} ms`)
      if (mode === 'pending') assert.ok(r.ms >= 700, 'stayed alive for the pending call')
    })
  }

  it('exits by itself with a TokenManager and event listeners and nothing left to do', async () => {
    await sb.reset()
    // The token travels in the environment, never in argv.
    const r = await runNode([fixture('exit-idle.mjs'), sb.baseUrl, 'manager', JSON.stringify(newClient(sb.partnerCode, 77))], 15000,
      { CONFIRMA_TEST_PROVISIONING_TOKEN: sb.provisioningToken })
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out.trim(), 'managed 2')
  })

  it('require() from CommonJS works and the process exits', async () => {
    const r = await runNode(['-e', "const s = require('confirma-sdk'); new s.OnboardingClient({ environment: 'staging' }); console.log(typeof s.OnboardingClient)"])
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out.trim(), 'function')
  })
})
