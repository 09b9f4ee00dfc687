// The examples: onboard.mjs runs against the sandbox; onboard.ts and the type tests pass `tsc --noEmit`.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { startSandbox } from './helpers.mjs'

const run = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const project = path.resolve(here, '..') // the scratch project the package is installed into
const examples = path.join(project, 'examples')
const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc')

describe('examples', { concurrency: true }, () => {
  let sb
  before(async () => { sb = await startSandbox() })
  after(async () => { await sb?.stop() })

  it('examples/node/onboard.mjs runs the flow against the sandbox without printing a token', async () => {
    const { stdout } = await run(process.execPath, [path.join(examples, 'onboard.mjs'), sb.baseUrl, sb.provisioningToken, sb.partnerCode], { timeout: 30000 })
    assert.match(stdout, /created/)
    assert.match(stdout, /old token valid: false, new token valid: true/)
    assert.match(stdout, /SecretToken\(\[REDACTED\]\)/)
    assert.ok(!stdout.includes(sb.provisioningToken))
    // The sandbox's tokens look like cfis_ppt_<32> / cfis_at_<40>: none may appear in the output.
    assert.ok(!/cfis_[a-z]+_[A-Za-z0-9]{16,}/.test(stdout), 'a token was printed')
  })

  it('examples/node/service.mjs validates at start-up and serves token() while renewing in the background', async () => {
    // Its own sandbox: tokens that live 3 s, so the background renewal (at 2/3 of the lifetime) happens soon.
    const own = await startSandbox()
    const dir = mkdtempSync(path.join(os.tmpdir(), 'confirma-node-service-'))
    let child
    try {
      await own.admin('POST', '/_sandbox/config', { tokenTtlSeconds: 3 })
      child = spawn(process.execPath, [path.join(examples, 'service.mjs'), own.baseUrl, path.join(dir, 'credentials.db'), own.partnerCode], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CONFIRMA_STORE_KEY: randomBytes(32).toString('base64'), CONFIRMA_PROVISIONING_TOKEN: own.provisioningToken }
      })
      let output = ''
      child.stderr.on('data', (d) => { output += d })
      const exited = new Promise((resolve) => child.once('exit', resolve))
      const url = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the service did not start: ${output}`)), 20000)
        createInterface({ input: child.stdout }).on('line', (l) => {
          output += l + '\n'
          if (l.startsWith('{"listening"')) { clearTimeout(timer); resolve(JSON.parse(l).listening) }
        })
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the service exited (${code}): ${output}`)) })
      })
      assert.match(output, /start-up: client \S+ token fp:\S+ version 1 valid=true health=healthy/)
      const call = async () => {
        const res = await fetch(url + '/call')
        assert.equal(res.status, 200)
        return res.json()
      }
      const versions = new Set()
      const deadline = Date.now() + 20000
      for (;;) {
        const r = await call()
        assert.equal(r.valid, true, 'every request is served with a working token')
        versions.add(r.tokenVersion)
        if (r.tokenVersion >= 2) break
        assert.ok(Date.now() < deadline, `no background renewal within 20 s: ${output}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const health = await (await fetch(url + '/health')).json()
      assert.equal(health[0].health, 'healthy')
      child.kill('SIGTERM')
      assert.equal(await exited, 0, output)
      assert.match(output, /\[event\] rotated client=/)
      assert.ok(!output.includes(own.provisioningToken))
      assert.ok(!/cfis_[a-z]+_[A-Za-z0-9]{16,}/.test(output), 'a token was printed')
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL')
      await own.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  for (const config of ['tsconfig.nodenext.json', 'tsconfig.commonjs.json']) {
    it(`tsc --noEmit -p ${config} (onboard.ts and the type tests)`, { skip: !existsSync(tsc) && 'typescript not installed in the test project' }, async () => {
      try {
        await run(process.execPath, [tsc, '--noEmit', '-p', path.join(here, 'types', config)], { cwd: project, timeout: 120000 })
      } catch (e) {
        assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`)
      }
    })
  }
})
