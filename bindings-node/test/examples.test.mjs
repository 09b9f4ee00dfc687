// The examples: onboard.mjs runs against the sandbox; onboard.ts and the type tests pass `tsc --noEmit`.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
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
