// Browser tests of the web onboarding example: `./run` (sandbox + app) driven through Debian's Chromium with
// playwright-core (never a downloaded browser). The expected texts come from the SDK itself (messageCatalog,
// formSchema), so the tests check that the page shows the SDK's messages where they belong.
//
//   node --test test/          # from examples/web-onboarding (scripts/test.sh installs what it needs)
//
// Screenshots of each state go to <repo>/target/web-onboarding/*.png.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { formSchema, messageCatalog, validateForm } from 'confirma-sdk'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const EXAMPLE = path.resolve(HERE, '..')
const REPO = path.resolve(EXAMPLE, '..', '..')
const SHOTS = path.join(REPO, 'target', 'web-onboarding')
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium'
const TOKEN_SHAPED = /cfis_[a-z]+_[A-Za-z0-9]{16,}/
const BAD_CHECK_DIGIT = '1572860-1' // 1572860-0 is valid
const ADD_CONTACT_EN = 'Add a contact person' // the page's own button text (the form's texts come from the schema)

/** Starts `./run`; resolves when it printed its JSON line, with the app URL and the sandbox it started. */
async function startRun () {
  const child = spawn(path.join(EXAMPLE, 'run'), [], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  let sandbox = null
  createInterface({ input: child.stderr }).on('line', (l) => {
    stderr += l + '\n'
    const m = l.match(/sandbox at (\S+)/)
    if (m) sandbox = m[1]
  })
  const lines = []
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`./run printed no URL within 10 minutes:\n${stderr}`)), 600_000)
    createInterface({ input: child.stdout }).on('line', (l) => {
      lines.push(l)
      if (lines.length === 1) { clearTimeout(timer); resolve(JSON.parse(l).url) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`./run exited (${code}):\n${stderr}`)) })
  })
  return {
    url,
    sandbox,
    lines,
    stderr: () => stderr,
    async fault (f) {
      const res = await fetch(`${sandbox}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f) })
      assert.equal(res.status < 300, true, `fault ${res.status}`)
    },
    async clearFaults () { await fetch(`${sandbox}/_sandbox/faults`, { method: 'DELETE' }) },
    async state () { return (await fetch(`${sandbox}/_sandbox/state`)).json() },
    async stop () {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
      child.kill('SIGTERM')
      return exited
    }
  }
}

describe('web onboarding in Chromium', { timeout: 900_000 }, () => {
  let app, context, page, dataDir
  const problems = [] // console errors, page errors, tokens seen in answers
  const company = {} // the first company's details (for the existing-client test)

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (scripts/test.sh installs Debian's chromium)`)
    rmSync(SHOTS, { recursive: true, force: true })
    mkdirSync(SHOTS, { recursive: true })
    app = await startRun()
    assert.match(app.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(app.sandbox, 'the sandbox URL is on stderr')
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'confirma-web-chromium-'))
    context = await chromium.launchPersistentContext(dataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      viewport: { width: 960, height: 900 },
      locale: 'fi-FI'
    })
    page = context.pages()[0] ?? await context.newPage()
    watch(page)
  })

  after(async () => {
    await context?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    if (app) {
      const code = await app.stop()
      assert.equal(code, 0, `./run stopped cleanly:\n${app.stderr()}`)
      assert.equal(app.lines.length, 1, 'exactly one line on stdout')
      assert.ok(!TOKEN_SHAPED.test(app.stderr()), 'no token in the log')
    }
  })

  function watch (p) {
    p.on('console', (m) => {
      // The onboarding answers 409 / 422 on purpose (existing client, invalid form): the browser logs those.
      if (m.type() !== 'error' || (m.location().url.endsWith('/api/onboard') && /status of 4(09|22)/.test(m.text()))) return
      problems.push(`console: ${m.text()} (${m.location().url})`)
    })
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    p.on('response', async (r) => {
      if (!r.url().includes('/api/')) return
      const body = await r.text().catch(() => '')
      if (TOKEN_SHAPED.test(body)) problems.push(`a token in the answer of ${r.url()}`)
    })
  }

  const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })
  const field = (p) => page.locator(`[data-field="${p}"]`)
  const errorOf = (p) => page.locator(`[data-error-for="${p}"]`)

  /** Waits until the message element of `p` shows exactly `text`. */
  async function waitForError (p, text) {
    try {
      await page.waitForFunction(([f, t]) => document.querySelector(`[data-error-for="${f}"]`)?.textContent === t, [p, text], { timeout: 10_000 })
    } catch {
      assert.fail(`the message of ${p} is ${JSON.stringify(await errorOf(p).textContent())}, expected ${JSON.stringify(text)}`)
    }
  }

  async function open (lang) {
    await page.goto(`${app.url}/?lang=${lang}`)
    await page.waitForSelector('body[data-ready="true"]')
  }

  /** Fills what the prefill leaves out: the service type, the primary contact, the terms. */
  async function complete () {
    await field('service.type').selectOption('LIFECYCLE')
    await field('contacts[0].role').selectOption('PRIMARY')
    await field('contacts[0].name').fill('Maija Meikäläinen')
    await field('contacts[0].email').fill('maija@testiasiakas.fi')
    await page.locator('[data-requirement="acceptTerms"]').check()
  }

  it('renders the form from the schema in Finnish, prefilled, with labels bound to the inputs', async () => {
    await open('fi')
    const schema = formSchema('fi')
    const form = schema['x-confirma-form']
    assert.equal(await page.locator('h1').textContent(), schema.title)
    assert.equal(await page.getAttribute('html', 'lang'), 'fi')
    for (const g of form.groups) {
      assert.equal(await page.locator(`[data-group="${g.id}"] > legend`).textContent(), g.title)
      for (const template of g.fields) {
        const p = template.replace('[]', '[0]')
        const input = field(p)
        assert.equal(await input.count(), 1, `one input for ${p}`)
        // The label bound to it carries the schema's title; the message element is announced with it.
        const info = await input.evaluate((e) => ({
          label: e.labels?.[0]?.textContent ?? null,
          describedBy: e.getAttribute('aria-describedby')?.split(' ') ?? [],
          invalid: e.getAttribute('aria-invalid')
        }))
        assert.equal(info.label.replace(/\s*\*$/, ''), form.fields[template].title, p)
        const errId = await errorOf(p).getAttribute('id')
        assert.ok(info.describedBy.includes(errId), `${p} is described by its message element`)
        assert.equal(info.invalid, 'false')
      }
    }
    const prefilled = Object.fromEntries(await Promise.all(form.prefill.map(async (p) => [p, await field(p).inputValue()])))
    for (const p of form.prefill) assert.ok(prefilled[p].length > 0, `${p} is prefilled`)
    assert.match(prefilled['client.businessCode'], /^\d{7}-\d$/)
    Object.assign(company, prefilled)
    const terms = form.uiRequirements.find((r) => r.id === 'acceptTerms')
    assert.equal(await page.locator('[data-requirement="acceptTerms"]').evaluate((e) => e.labels[0].textContent.replace(/\s*\*$/, '')), terms.title)
    await shot('01-form-fi')
  })

  it('an invalid business id shows the Finnish message next to its field when the user leaves it', async () => {
    const fi = messageCatalog('fi').business_id_check_digit
    assert.notEqual(fi, messageCatalog('en').business_id_check_digit)
    await field('client.businessCode').fill(BAD_CHECK_DIGIT)
    await page.keyboard.press('Tab')
    await waitForError('client.businessCode', fi)
    assert.equal(await field('client.businessCode').getAttribute('aria-invalid'), 'true')
    // Next to its field: in the same field container, right after the input.
    const adjacent = await field('client.businessCode').evaluate((e) => e.nextElementSibling?.getAttribute('data-error-for'))
    assert.equal(adjacent, 'client.businessCode')
    // Fields the user has not visited show nothing yet (the VAT number no longer matches, but it was not left).
    assert.equal(await errorOf('client.vatRegNbr').textContent(), '')
    await shot('02-invalid-business-id-fi')
    // The picture in the README: the top of the page in this state.
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.screenshot({ path: path.join(SHOTS, 'readme-form-fi.png'), clip: { x: 0, y: 0, width: 960, height: 760 } })
  })

  it('switching to Swedish shows the Swedish message and labels', async () => {
    await page.locator('#languages [data-lang="sv"]').click()
    await waitForError('client.businessCode', messageCatalog('sv').business_id_check_digit)
    assert.equal(await page.getAttribute('html', 'lang'), 'sv')
    assert.match(page.url(), /[?&]lang=sv/)
    const label = await field('client.businessCode').evaluate((e) => e.labels[0].textContent.replace(/\s*\*$/, ''))
    assert.equal(label, formSchema('sv')['x-confirma-form'].fields['client.businessCode'].title)
    assert.equal(await field('client.businessCode').inputValue(), BAD_CHECK_DIGIT, 'what the user typed is kept')
    await shot('03-invalid-business-id-sv')
  })

  it('submitting shows every problem at once (service type and terms are required)', async () => {
    const sv = messageCatalog('sv')
    await page.locator('#submit').click()
    await waitForError('service.type', sv.required)
    await waitForError('acceptTerms', sv.terms_required)
    await waitForError('client.businessCode', sv.business_id_check_digit)
    await waitForError('contacts[0].role', sv.required)
    assert.equal(await page.locator('[data-requirement="acceptTerms"]').getAttribute('aria-invalid'), 'true')
    const summary = page.locator('#summary')
    assert.equal(await summary.getAttribute('role'), 'alert')
    assert.ok(await summary.isVisible())
    assert.ok((await summary.locator('li').count()) >= 4)
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'summary', 'the summary takes the focus')
    await shot('04-all-problems-sv')
  })

  it('a second contact row: its paths are contacts[1].*, a duplicate role gets its message, the row can be removed', async () => {
    const page1 = page
    page = await context.newPage()
    watch(page)
    try {
      await open('en')
      await complete()
      await page.getByRole('button', { name: ADD_CONTACT_EN }).click()
      await field('contacts[1].role').selectOption('PRIMARY')
      await field('contacts[1].name').fill('Matti M')
      await field('contacts[1].email').fill('matti@testiasiakas.fi')
      await field('contacts[1].role').focus()
      await page.keyboard.press('Tab')
      const contacts = [
        { role: 'PRIMARY', name: 'Maija Meikäläinen', email: 'maija@testiasiakas.fi' },
        { role: 'PRIMARY', name: 'Matti M', email: 'matti@testiasiakas.fi' }
      ]
      const expected = validateForm({ contacts }, { language: 'en' }).find((i) => i.field === 'contacts[1].role')
      assert.equal(expected?.code, 'duplicate_role')
      await waitForError('contacts[1].role', expected.userMessage)
      await shot('04b-duplicate-role-en')
      await page.locator('[data-row="contacts[1]"] button').click()
      assert.equal(await field('contacts[1].role').count(), 0)
      assert.equal(await field('contacts[0].name').inputValue(), 'Maija Meikäläinen', 'the first row stays')
    } finally {
      await page.close()
      page = page1
    }
  })

  it('a fixed form submits and shows the customer code and the token status, never the token', async () => {
    await field('client.businessCode').fill(company['client.businessCode'])
    await complete()
    await page.locator('#languages [data-lang="fi"]').click()
    await page.waitForFunction(() => document.documentElement.lang === 'fi')
    await page.locator('#submit').click()
    await page.waitForSelector('[data-outcome="created"]', { timeout: 30_000 })
    const code = await page.locator('[data-result="customerCode"]').textContent()
    assert.match(code, /\S+/)
    assert.match(await page.locator('[data-result="fingerprint"]').textContent(), /\S{6,}/)
    assert.equal(await page.locator('[data-result="health"]').getAttribute('data-health'), 'healthy')
    assert.notEqual(await page.locator('[data-result="nextRenewAt"]').textContent(), '')
    assert.equal(await page.locator('#submit').count(), 0, 'no second submit')
    assert.ok(!TOKEN_SHAPED.test(await page.content()), 'no token in the page')
    company.customerCode = code
    await shot('05-created-fi')
  })

  it('the same company again shows the existing-client path', async () => {
    await open('en')
    for (const p of ['client.businessCode', 'client.vatRegNbr', 'client.name']) await field(p).fill(company[p])
    await complete()
    await page.locator('#submit').click()
    await page.waitForSelector('[data-outcome="existing"]', { timeout: 30_000 })
    // Its credentials are in our store: the page shows the same customer code.
    assert.equal(await page.locator('[data-result="customerCode"]').textContent(), company.customerCode)
    assert.equal(await page.locator('#submit').count(), 0)
    await shot('06-existing-client-en')
  })

  it('an outcome-unknown failure shows a safe message that does not invite a second submit', async () => {
    await open('fi')
    await complete()
    // The form as the page sends it (from the data-field inputs), for the resubmission below.
    const sent = await page.evaluate(() => {
      const out = {}
      for (const e of document.querySelectorAll('[data-field]')) {
        if (!e.value) continue
        const keys = e.dataset.field.match(/[^.[\]]+/g)
        let node = out
        keys.forEach((k, i) => {
          const key = /^\d+$/.test(k) ? Number(k) : k
          if (i === keys.length - 1) node[key] = e.value
          else node = node[key] ??= (/^\d+$/.test(keys[i + 1]) ? [] : {})
        })
      }
      return out
    })
    // The service creates the client, then the connection drops before the answer (on every retry too).
    await app.fault({ kind: 'commit_then_drop', path: '/api/v1/partner/client', times: 10 })
    try {
      await page.locator('#submit').click()
      await page.waitForSelector('[data-outcome="unknown"]', { timeout: 60_000 })
    } finally {
      await app.clearFaults()
    }
    assert.equal(await page.locator('#submit').count(), 0, 'no submit button')
    assert.equal(await page.locator('form').count(), 0, 'no form')
    assert.match(await page.locator('[data-outcome="unknown"]').textContent(), /Älä lähetä/)
    await shot('07-outcome-unknown-fi')
    // Nor does the server send it again: the same company answers the same, without a request to CFIS.
    const before = await app.state()
    const res = await fetch(`${app.url}/api/onboard`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lang: 'fi', accepted: { acceptTerms: true }, form: sent })
    })
    assert.equal(res.status, 202)
    assert.equal((await res.json()).outcome, 'unknown')
    assert.deepEqual((await app.state()).requests, before.requests)
  })

  it('two submits of one company at once: one create, the same answer for both', async () => {
    const { values } = await (await fetch(`${app.url}/api/prefill`)).json()
    const form = { service: { type: 'COOP' }, client: {}, contacts: [{ role: 'PRIMARY', name: 'Maija M', email: 'maija@testiasiakas.fi' }] }
    for (const [p, v] of Object.entries(values)) form.client[p.split('.')[1]] = v
    const post = async () => {
      const r = await fetch(`${app.url}/api/onboard`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ lang: 'en', accepted: { acceptTerms: true }, form })
      })
      return { status: r.status, body: await r.json() }
    }
    const before = await app.state()
    const [a, b] = await Promise.all([post(), post()])
    assert.equal(a.status, 200, JSON.stringify(a.body))
    assert.equal(a.body.outcome, 'created')
    assert.deepEqual(b, a)
    assert.equal((await app.state()).clients, before.clients + 1)
    // Afterwards, the same company is the existing-client path.
    const again = await post()
    assert.equal(again.status, 409)
    assert.equal(again.body.customerCode, a.body.customerCode)
  })

  it('works with the keyboard only', async () => {
    await open('en')
    const tabTo = async (selector) => {
      for (let i = 0; i < 80; i++) {
        if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return
        await page.keyboard.press('Tab')
      }
      assert.fail(`Tab never reached ${selector}`)
    }
    await tabTo('[data-field="service.type"]')
    await page.keyboard.press('ArrowDown') // the first service
    await tabTo('[data-field="contacts[0].role"]')
    await page.keyboard.press('ArrowDown') // PRIMARY
    await page.keyboard.press('Tab')
    await page.keyboard.type('Matti Meikäläinen')
    await page.keyboard.press('Tab')
    await page.keyboard.type('matti@testiasiakas.fi')
    await tabTo('[data-requirement="acceptTerms"]')
    await page.keyboard.press('Space')
    await tabTo('#submit')
    await page.keyboard.press('Enter')
    await page.waitForSelector('[data-outcome="created"]', { timeout: 30_000 })
    await shot('08-created-keyboard-en')
  })

  it('no console errors, no page errors, no token in any answer', () => {
    assert.deepEqual(problems, [])
  })
})
