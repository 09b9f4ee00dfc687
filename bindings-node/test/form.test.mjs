// The form kit through the public API: formSchema, validateForm, missingFields, messageCatalog, FieldIssue,
// ValidationError.issues and the client's `language` option — against the real sandbox where a call is made.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import {
  ConfigurationError, OnboardingClient, ValidationError,
  formSchema, messageCatalog, missingFields, validateForm
} from 'confirma-sdk'
import { newClient, rejection, startSandbox } from './helpers.mjs'

const LANGS = ['fi', 'sv', 'en']
const BAD_CHECK_DIGIT = '1572860-1' // 1572860-0 is valid

/** A valid form with `client` fields replaced. */
function form (overrides = {}) {
  return newClient('PARTNER', 1, overrides)
}

describe('form kit', () => {
  it('formSchema: a JSON Schema 2020-12 in each language, with x-confirma-form to render from', () => {
    const titles = new Set()
    for (const lang of LANGS) {
      const s = formSchema(lang)
      assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema')
      assert.deepEqual(s.required, ['service', 'client', 'contacts'])
      const f = s['x-confirma-form']
      assert.equal(f.language, lang)
      assert.deepEqual(f.groups.map((g) => g.id), ['service', 'company', 'contacts'])
      const shown = f.groups.flatMap((g) => g.fields)
      assert.ok(shown.includes('client.businessCode') && shown.includes('contacts[].email'))
      assert.ok(!shown.includes('service.partnerCode'), 'the partner code is not a form field')
      for (const path of shown) {
        assert.ok(f.fields[path], `fields has ${path}`)
        assert.equal(typeof f.fields[path].title, 'string')
      }
      assert.ok(f.prefill.includes('client.businessCode'))
      const terms = f.uiRequirements.find((r) => r.id === 'acceptTerms')
      assert.equal(terms.required, true)
      assert.equal(terms.message, messageCatalog(lang)[terms.code])
      assert.deepEqual(f.messages, { ...messageCatalog(lang) })
      const bid = s.properties.client.properties.businessCode
      assert.equal(bid.title, f.fields['client.businessCode'].title)
      titles.add(bid.title)
      const types = s.properties.service.properties.type
      assert.deepEqual(types.enum, ['LIFECYCLE', 'INTERMEDIATION', 'COOP'])
      assert.deepEqual(Object.keys(types['x-confirma-labels']).sort(), [...types.enum].sort())
    }
    assert.equal(titles.size, 3, `one business-id title per language: ${[...titles]}`)
    assert.equal(formSchema('fi').properties.client.properties.businessCode.title, 'Y-tunnus')
    assert.equal(formSchema('sv').properties.client.properties.businessCode.title, 'FO-nummer')
  })

  it('formSchema: English by default, regions and case ignored, a fresh object per call', () => {
    assert.equal(formSchema()['x-confirma-form'].language, 'en')
    assert.equal(formSchema('FI-fi')['x-confirma-form'].language, 'fi')
    const a = formSchema('sv')
    a.title = 'changed'
    assert.notEqual(formSchema('sv').title, 'changed')
  })

  it('an unknown language or option is a ConfigurationError, a form that is not JSON a TypeError', () => {
    for (const call of [
      () => formSchema('de'),
      () => formSchema(42),
      () => messageCatalog('xx'),
      () => validateForm({}, { language: 'de' }),
      () => validateForm({}, { validation: 'loose' }),
      () => validateForm({}, { lang: 'fi' }),
      () => missingFields({}, { language: 'no' }),
      () => new OnboardingClient({ baseUrl: 'http://127.0.0.1:1', language: 'de' })
    ]) {
      assert.throws(call, ConfigurationError)
    }
    assert.throws(() => formSchema('de'), /`fi`, `sv` or `en`/)
    assert.throws(() => validateForm({ n: 1n }), TypeError)
  })

  it('validateForm: every problem at once, each with a stable code, params and texts in three languages', () => {
    assert.deepEqual(validateForm(form()), [])
    const bad = form({ businessCode: BAD_CHECK_DIGIT, postalCode: '123', email: 'nope' })
    bad.service.type = undefined
    const byLang = Object.fromEntries(LANGS.map((l) => [l, validateForm(bad, { language: l })]))
    const issues = byLang.en
    const find = (list, field) => list.find((i) => i.field === field)
    assert.equal(find(issues, 'client.businessCode').code, 'business_id_check_digit')
    assert.equal(find(issues, 'client.postalCode').code, 'postal_code_format')
    assert.equal(find(issues, 'client.email').code, 'email_format')
    assert.equal(find(issues, 'service.type').code, 'required')
    assert.ok(Object.isFrozen(issues) && Object.isFrozen(issues[0]) && Object.isFrozen(issues[0].params))
    for (const i of issues) {
      assert.deepEqual(Object.keys(i), ['field', 'code', 'params', 'message', 'userMessage'])
      // The developer text is the same in every language; the end-user text is the catalogue's.
      for (const l of ['fi', 'sv']) assert.equal(find(byLang[l], i.field).message, i.message)
    }
    const fi = find(byLang.fi, 'client.businessCode').userMessage
    const sv = find(byLang.sv, 'client.businessCode').userMessage
    assert.match(fi, /^Y-tunnus/)
    assert.match(sv, /^FO-numret/)
    assert.notEqual(fi, find(issues, 'client.businessCode').userMessage)
    // The parameters fill the templates.
    const postal = find(byLang.fi, 'client.postalCode')
    const placeholders = messageCatalog('fi').postal_code_format.match(/\{[a-z_]+\}/g) ?? []
    assert.ok(placeholders.length > 0, 'the postal code template has parameters')
    for (const ph of placeholders) {
      const value = postal.params[ph.slice(1, -1)]
      assert.ok(value !== undefined, `param ${ph}`)
      assert.ok(postal.userMessage.includes(value), `${postal.userMessage} has ${value}`)
    }
    assert.ok(!postal.userMessage.includes('{'))
  })

  it('validateForm: any input shape, and lenient checks presence and codes only', () => {
    for (const v of [null, undefined, 42, 'x', [], { client: 'x' }, { contacts: {} }]) {
      const issues = validateForm(v)
      assert.ok(issues.length > 0, `issues for ${JSON.stringify(v)}`)
      for (const i of issues) assert.ok(messageCatalog('en')[i.code] !== undefined, `catalogued code ${i.code}`)
    }
    const bad = form({ businessCode: BAD_CHECK_DIGIT })
    assert.equal(validateForm(bad, { validation: 'lenient' }).length, 0)
    assert.equal(validateForm(bad, { validation: 'strict' }).length, 1)
  })

  it('missingFields: what a prefilled form still needs, required only', () => {
    const prefilled = { client: { name: 'Testiasiakas Oy', businessCode: '1572860-0', countryCode: 'FI' } }
    const missing = missingFields(prefilled, { language: 'sv' })
    assert.ok(missing.length > 0)
    assert.ok(missing.every((i) => i.code === 'required'))
    const fields = missing.map((i) => i.field)
    assert.ok(fields.includes('service.type'))
    assert.ok(fields.includes('client.email'))
    assert.ok(fields.includes('contacts'))
    assert.ok(!fields.includes('client.name'))
    assert.ok(!fields.includes('service.partnerCode'), 'the partner fills its code')
    assert.equal(missing[0].userMessage, messageCatalog('sv').required)
    assert.deepEqual(missingFields(form()), [])
  })

  it('messageCatalog: the same codes in fi, sv and en, each with its own text', () => {
    const [fi, sv, en] = LANGS.map((l) => messageCatalog(l))
    assert.ok(Object.keys(en).length >= 20)
    assert.deepEqual(Object.keys(fi), Object.keys(en))
    assert.deepEqual(Object.keys(sv), Object.keys(en))
    for (const code of ['required', 'business_id_check_digit', 'vat_mismatch', 'postal_code_format', 'email_format', 'duplicate_role', 'terms_required']) {
      assert.ok(en[code] && fi[code] && sv[code], code)
      assert.notEqual(fi[code], en[code], code)
      assert.notEqual(sv[code], en[code], code)
      // The same placeholders in every language.
      const ph = (s) => (s.match(/\{[a-z_]+\}/g) ?? []).sort()
      assert.deepEqual(ph(fi[code]), ph(en[code]), code)
      assert.deepEqual(ph(sv[code]), ph(en[code]), code)
    }
    assert.deepEqual(messageCatalog(), en)
    assert.ok(Object.isFrozen(en))
  })
})

describe('ValidationError.issues and the language option', () => {
  let sb
  before(async () => { sb = await startSandbox() })
  after(async () => { await sb?.stop() })

  it('a client-side ValidationError carries the issues validateForm reports, in the client language', async () => {
    for (const lang of LANGS) {
      const client = new OnboardingClient({ baseUrl: sb.baseUrl, language: lang, maxRetries: 0 })
      const bad = newClient(sb.partnerCode, 2, { businessCode: BAD_CHECK_DIGIT, email: 'nope' })
      const err = await rejection(client.createClient(sb.provisioningToken, bad))
      assert.ok(err instanceof ValidationError)
      assert.equal(err.source, 'client')
      assert.deepEqual(err.issues, validateForm(bad, { language: lang }))
      const bid = err.issues.find((i) => i.field === 'client.businessCode')
      assert.equal(bid.code, 'business_id_check_digit')
      assert.deepEqual(err.fieldErrors['client.businessCode'], [bid.message])
      assert.ok(Object.isFrozen(err.issues))
    }
    const state = await sb.state()
    assert.equal(state.clients, 0, 'nothing was sent')
  })

  it('a server-side ValidationError keeps the server texts and recognises their codes', async () => {
    // Lenient on our side: the sandbox (strict) finds the check digit.
    const client = new OnboardingClient({ baseUrl: sb.baseUrl, language: 'fi', validation: 'lenient', maxRetries: 0 })
    const bad = newClient(sb.partnerCode, 3, { businessCode: BAD_CHECK_DIGIT, vatRegNbr: null })
    const err = await rejection(client.createClient(sb.provisioningToken, bad))
    assert.ok(err instanceof ValidationError)
    assert.equal(err.source, 'server')
    assert.ok(err.issues.length > 0)
    for (const i of err.issues) {
      assert.ok(err.fieldErrors[i.field].includes(i.message), 'the server text is kept')
      assert.ok(messageCatalog('fi')[i.code] !== undefined, i.code)
      assert.equal(typeof i.userMessage, 'string')
    }
    const bid = err.issues.find((i) => i.field === 'client.businessCode')
    assert.ok(bid, JSON.stringify(err.issues))
    assert.match(bid.code, /^business_id_/, `recognised: ${bid.message}`)
    assert.match(bid.userMessage, /Y-tunnus/, 'in the client language (Finnish)')
    assert.ok(!bid.userMessage.includes('{'))
  })

  it('without the language option the end-user texts are English', async () => {
    const client = new OnboardingClient({ baseUrl: sb.baseUrl, maxRetries: 0 })
    const err = await rejection(client.createClient(sb.provisioningToken, newClient(sb.partnerCode, 4, { email: 'nope' })))
    assert.equal(err.issues[0].userMessage, messageCatalog('en').email_format)
    const sdk = createRequire(import.meta.url)('confirma-sdk')
    assert.equal(sdk.formSchema, formSchema, 'the CommonJS and ESM entries are one module')
  })
})
