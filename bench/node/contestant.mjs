// Node contestants of the benchmark harness (bench/harness.py).
//   node contestant.mjs <name> '<spec json>'   -> one JSON line on stdout
// Names: confirma (the confirma-sdk package), undici (undici.Pool + request), fetch (global fetch).
// Peers send the same headers as the SDK (X-Api-Key, Accept: application/json) and parse the JSON body.
import { performance } from 'node:perf_hooks'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

// Packages resolve from the working directory (the scratch project where the harness installed them).
const require = createRequire(process.cwd() + '/package.json')
const T_START = performance.now()
const [name, specText] = process.argv.slice(2)
const spec = JSON.parse(specText)
const base = spec.baseUrl.replace(/\/$/, '')
const conc = spec.concurrency || 1
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2]
let idCounter = spec.idBase || 0

function businessCode () {
  for (;;) {
    const n = idCounter++ % 10_000_000
    const digits = String(n).padStart(7, '0')
    let sum = 0
    for (let i = 0; i < 7; i++) sum += (digits.charCodeAt(i) - 48) * WEIGHTS[i]
    const r = sum % 11
    if (r !== 1) return `${digits}-${r === 0 ? 0 : 11 - r}`
  }
}
function newClient (code) {
  return {
    service: { type: 'LIFECYCLE', partnerCode: spec.partnerCode },
    client: {
      name: 'Testiasiakas Oy', businessCode: code, vatRegNbr: 'FI' + code.replace('-', ''),
      postalAddress: 'Testikuja 7', postalCode: '00100', postalDistrict: 'HELSINKI',
      countryCode: 'FI', email: 'laskutus@testiasiakas.fi', languageCode: 'FI'
    },
    contacts: [{ role: 'PRIMARY', name: 'Maija Meikäläinen', email: 'maija@testiasiakas.fi' }]
  }
}
function rssKb () {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) : 0
}

async function makeOps () {
  if (name === 'confirma') {
    const t0 = performance.now()
    const sdk = require('confirma-sdk')
    const t1 = performance.now()
    const c = new sdk.OnboardingClient({ baseUrl: spec.baseUrl })
    const t2 = performance.now()
    const validate = async (tok) => { if (!(await c.validateToken(tok)).isValid) throw new Error('token not valid') }
    return {
      importMs: t1 - t0,
      newClientMs: t2 - t1,
      validate,
      async flow () {
        const created = await c.createClient(spec.provisioningToken, newClient(businessCode()))
        await validate(created.accessToken)
        const renewed = await c.renewToken(created.accessToken)
        await validate(renewed.accessToken)
      },
      close () {}
    }
  }
  let get, post, close
  const t0 = performance.now()
  if (name === 'undici') {
    const { Pool } = require('undici')
    const pool = new Pool(base, { connections: Math.max(conc, 16), pipelining: 1 })
    const t1 = performance.now()
    get = async (path, tok) => {
      const r = await pool.request({ path, method: 'GET', headers: { 'x-api-key': tok, accept: 'application/json' } })
      const body = await r.body.json()
      if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}`)
      return body
    }
    post = async (path, tok, payload) => {
      const r = await pool.request({
        path, method: 'POST', body: JSON.stringify(payload),
        headers: { 'x-api-key': tok, accept: 'application/json', 'content-type': 'application/json' }
      })
      const body = await r.body.json()
      if (r.statusCode !== 200 && r.statusCode !== 201) throw new Error(`HTTP ${r.statusCode}`)
      return body
    }
    close = () => pool.close()
    var newClientMs = t1 - t0
  } else if (name === 'fetch') {
    get = async (path, tok) => {
      const r = await fetch(base + path, { headers: { 'x-api-key': tok, accept: 'application/json' } })
      const body = await r.json()
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`)
      return body
    }
    post = async (path, tok, payload) => {
      const r = await fetch(base + path, {
        method: 'POST', body: JSON.stringify(payload),
        headers: { 'x-api-key': tok, accept: 'application/json', 'content-type': 'application/json' }
      })
      const body = await r.json()
      if (r.status !== 200 && r.status !== 201) throw new Error(`HTTP ${r.status}`)
      return body
    }
    close = () => {}
    newClientMs = 0
  } else {
    throw new Error(`unknown contestant ${name}`)
  }
  const validate = async (tok) => { if (!(await get('/api/v1/partner/validate', tok)).isValid) throw new Error('token not valid') }
  return {
    importMs: 0,
    newClientMs,
    validate,
    async flow () {
      const created = await post('/api/v1/partner/client', spec.provisioningToken, newClient(businessCode()))
      await validate(created.accessToken)
      const renewed = await get('/api/v1/partner/renew', created.accessToken)
      await validate(renewed.accessToken)
    },
    close
  }
}

async function count (ops, n) {
  let left = n
  let errors = 0
  const worker = async () => {
    while (left-- > 0) {
      try { await ops.validate(spec.token) } catch { errors++ }
    }
  }
  await Promise.all(Array.from({ length: conc }, worker))
  return errors
}

async function main () {
  const ops = await makeOps()
  const wl = spec.workload
  let out
  if (wl === 'first_call') {
    const t1 = performance.now()
    let error = null
    try { await ops.validate(spec.token) } catch (e) { error = String(e) }
    const t2 = performance.now()
    out = { import_ms: ops.importMs, new_client_ms: ops.newClientMs, first_call_ms: t2 - t1, process_to_first_result_ms: t2 - T_START, error }
  } else if (wl === 'rss') {
    const e1 = await count(ops, Math.max(Math.floor(spec.calls / 10), 1000))
    if (global.gc) global.gc()
    const before = rssKb()
    const e2 = await count(ops, spec.calls)
    if (global.gc) global.gc()
    const after = rssKb()
    out = { calls: spec.calls, rss_before_kb: before, rss_after_kb: after, rss_growth_kb: after - before, errors: e1 + e2, heap_used_kb: Math.round(process.memoryUsage().heapUsed / 1024) }
  } else if (wl === 'soak') {
    // A long run at one concurrency with memory sampled every `sampleEvery` calls (after a full GC when
    // --expose-gc is on): does RSS keep growing (a leak) or level off (allocator / V8 heap sizing)?
    const every = spec.sampleEvery || 100_000
    const sample = (calls, t0) => {
      if (global.gc) global.gc()
      const m = process.memoryUsage()
      const kb = (b) => Math.round(b / 1024)
      return { calls, seconds: Math.round((performance.now() - t0) / 10) / 100, rss_kb: rssKb(), heap_used_kb: kb(m.heapUsed), heap_total_kb: kb(m.heapTotal), external_kb: kb(m.external), array_buffers_kb: kb(m.arrayBuffers) }
    }
    let errors = await count(ops, spec.warmupCalls ?? Math.max(Math.floor(every / 5), 1000))
    const t0 = performance.now()
    const samples = [sample(0, t0)]
    for (let done = 0; done < spec.calls;) {
      const n = Math.min(every, spec.calls - done)
      errors += await count(ops, n)
      done += n
      samples.push(sample(done, t0))
    }
    out = { calls: spec.calls, sample_every: every, samples, errors }
  } else {
    const isFlow = wl === 'flow'
    const start = performance.now()
    const measureFrom = start + (spec.warmupSec || 0) * 1e3
    const end = measureFrom + (spec.durationSec || 1) * 1e3
    const lats = []
    let errors = 0
    let firstError = null
    // CPU time of the whole process (every thread) over the measured window: the cost per call, which a
    // loaded machine distorts far less than req/s.
    let cpu0 = null
    const cpuTimer = setTimeout(() => { cpu0 = process.cpuUsage() }, Math.max(0, measureFrom - performance.now()))
    const worker = async () => {
      for (;;) {
        const t0 = performance.now()
        if (t0 >= end) return
        try {
          if (isFlow) await ops.flow(); else await ops.validate(spec.token)
        } catch (e) {
          errors++
          firstError ??= String(e)
          await new Promise(resolve => setTimeout(resolve, 10))
          continue
        }
        if (t0 >= measureFrom) lats.push(Math.round((performance.now() - t0) * 1e3))
      }
    }
    await Promise.all(Array.from({ length: conc }, worker))
    clearTimeout(cpuTimer)
    const cpu = cpu0 === null ? null : process.cpuUsage(cpu0)
    const seconds = (Math.max(performance.now(), end) - measureFrom) / 1e3
    lats.sort((a, b) => a - b)
    const pct = (p) => lats.length ? lats[Math.round((lats.length - 1) * p)] : 0
    const cpuUs = cpu && lats.length ? Math.round((cpu.user + cpu.system) / lats.length * 10) / 10 : null
    out = { ops: lats.length, seconds, rps: lats.length / seconds, p50_us: pct(0.5), p99_us: pct(0.99), cpu_us_per_op: cpuUs, errors, first_error: firstError }
  }
  await ops.close()
  process.stdout.write(JSON.stringify(out) + '\n')
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
