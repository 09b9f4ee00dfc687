/* global CSS, location, history */
// The onboarding page. No build step, no framework: the form is rendered from the SDK's form schema
// (GET /api/schema?lang=… → formSchema(lang)), only from its `x-confirma-form` extension and the JSON Schema
// properties it points at: groups and their order, field titles and descriptions, input kinds, autocomplete
// hints, the service types' and contact roles' labels, the terms step (uiRequirements) and the messages.
// Validation happens on the server, through the SDK: as the user leaves a field, and all at once on submit.
//
// Each input carries data-field="<API field path>" (client.businessCode, contacts[0].email) and each message
// element data-error-for="<the same path>".

// The page's own words: buttons and the outcome screens (everything about the form itself — its title,
// groups, fields, labels, choices, the terms step and every message — comes from the schema).
const UI = {
  fi: {
    name: 'Suomi',
    submit: 'Lähetä',
    sending: 'Lähetetään…',
    addContact: 'Lisää yhteyshenkilö',
    removeContact: 'Poista',
    choose: 'Valitse…',
    summary: (n) => n === 1 ? 'Korjaa yksi kohta:' : `Korjaa ${n} kohtaa:`,
    created: 'Tervetuloa asiakkaaksi!',
    customerCode: 'Asiakasnumero',
    referencePrefix: 'Viitenumeron alku',
    tokenHeading: 'Rajapintayhteys',
    fingerprint: 'Avaimen tunniste',
    state: 'Tila',
    health: { healthy: 'kunnossa', degraded: 'häiriöitä, uusitaan', lost: 'ei käytössä: ota yhteyttä tukeen' },
    nextRenewal: 'Seuraava uusinta',
    expires: 'Voimassa',
    never: 'toistaiseksi',
    tokenNote: 'Yhteysavain on tallennettu salattuna palveluumme, eikä sitä näytetä.',
    existing: 'Yritys on jo asiakkaamme',
    existingText: 'Tällä Y-tunnuksella on jo asiakkuus, joten uutta ei tarvita. Olemassa oleva yhteys on käytössä.',
    existingUnknown: 'Tällä Y-tunnuksella on jo asiakkuus. Jos yhteys ei ole vielä käytössä, ota yhteyttä tukeemme.',
    unknown: 'Lähetys jäi vahvistamatta',
    unknownText: 'Emme saaneet vahvistusta siitä, onnistuiko rekisteröinti. Älä lähetä lomaketta uudelleen: tarkistamme asian ja otamme sinuun yhteyttä.',
    reference: 'Viite',
    failed: 'Palvelu ei vastaa juuri nyt. Mitään ei rekisteröity — yritä hetken kuluttua uudelleen.',
    loadFailed: 'Lomaketta ei voitu ladata. Yritä päivittää sivu.'
  },
  sv: {
    name: 'Svenska',
    submit: 'Skicka',
    sending: 'Skickar…',
    addContact: 'Lägg till kontaktperson',
    removeContact: 'Ta bort',
    choose: 'Välj…',
    summary: (n) => n === 1 ? 'Rätta en uppgift:' : `Rätta ${n} uppgifter:`,
    created: 'Välkommen som kund!',
    customerCode: 'Kundnummer',
    referencePrefix: 'Referensnumrets början',
    tokenHeading: 'API-anslutning',
    fingerprint: 'Nyckelns identifierare',
    state: 'Status',
    health: { healthy: 'i ordning', degraded: 'störningar, förnyas', lost: 'ur bruk: kontakta supporten' },
    nextRenewal: 'Nästa förnyelse',
    expires: 'Giltig till',
    never: 'tills vidare',
    tokenNote: 'Anslutningsnyckeln har sparats krypterad i vår tjänst och visas aldrig.',
    existing: 'Företaget är redan kund',
    existingText: 'Det finns redan en kundrelation med detta FO-nummer, så ingen ny behövs. Den befintliga anslutningen används.',
    existingUnknown: 'Det finns redan en kundrelation med detta FO-nummer. Kontakta vår support om anslutningen inte ännu används.',
    unknown: 'Inskickningen kunde inte bekräftas',
    unknownText: 'Vi fick ingen bekräftelse på om registreringen lyckades. Skicka inte formuläret igen: vi kontrollerar saken och kontaktar dig.',
    reference: 'Referens',
    failed: 'Tjänsten svarar inte just nu. Inget registrerades — försök igen om en stund.',
    loadFailed: 'Formuläret kunde inte laddas. Försök att uppdatera sidan.'
  },
  en: {
    name: 'English',
    submit: 'Submit',
    sending: 'Submitting…',
    addContact: 'Add a contact person',
    removeContact: 'Remove',
    choose: 'Choose…',
    summary: (n) => n === 1 ? 'Please correct one item:' : `Please correct ${n} items:`,
    created: 'Welcome aboard!',
    customerCode: 'Customer code',
    referencePrefix: 'Payment reference prefix',
    tokenHeading: 'API connection',
    fingerprint: 'Key fingerprint',
    state: 'Status',
    health: { healthy: 'healthy', degraded: 'degraded, being renewed', lost: 'lost: contact support' },
    nextRenewal: 'Next renewal',
    expires: 'Valid until',
    never: 'until further notice',
    tokenNote: 'The access key is stored encrypted by our service and never shown.',
    existing: 'The company is already a client',
    existingText: 'There is already a client account for this Business ID, so no new one is needed. The existing connection is in use.',
    existingUnknown: 'There is already a client account for this Business ID. If its connection is not in use yet, please contact our support.',
    unknown: 'We could not confirm your submission',
    unknownText: 'We did not receive confirmation of whether the registration went through. Please do not submit the form again: we will check and contact you.',
    reference: 'Reference',
    failed: 'The service is not answering right now. Nothing was registered — please try again in a moment.',
    loadFailed: 'The form could not be loaded. Please reload the page.'
  }
}
const LANGUAGES = Object.keys(UI)

const state = {
  lang: 'fi',
  schema: null,
  values: new Map(), // field path → string
  accepted: {}, // ui requirement id → boolean
  contacts: 1, // how many contact rows
  touched: new Set(), // fields the user has left
  submitted: false, // after a submit, every issue shows
  issues: [],
  validateSeq: 0,
  busy: false
}

const $ = (sel, root = document) => root.querySelector(sel)
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'text') e.textContent = v
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c)
  return e
}
const idFor = (path) => 'f-' + path.replace(/[^A-Za-z0-9]+/g, '-')
const t = () => UI[state.lang]
const form = () => state.schema['x-confirma-form']

// ---------------------------------------------------------------------------------------------
// The schema

/** Follows local `$ref`s (`#/$defs/Contact`). */
function deref (node) {
  for (let guard = 0; node && typeof node.$ref === 'string' && guard < 32; guard++) {
    node = node.$ref.replace(/^#\/?/, '').split('/').filter(Boolean)
      .reduce((n, k) => n?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], state.schema)
  }
  return node
}

/** The JSON Schema of a field path template (`contacts[].role` → the role property). */
function propertySchema (template) {
  let node = deref(state.schema)
  for (const part of template.split('.')) {
    const many = part.endsWith('[]')
    node = deref(deref(node)?.properties?.[many ? part.slice(0, -2) : part])
    if (many) node = deref(node?.items)
  }
  return node ?? {}
}

/** `[value, label]` choices of an enumerated field, or null. */
function choices (template, field) {
  if (Array.isArray(field.options)) return field.options.map((o) => typeof o === 'object' ? [o.value ?? o.const, o.label ?? o.title] : [o, o])
  const prop = propertySchema(template)
  const labels = { ...(prop['x-confirma-labels'] ?? {}), ...(field.labels ?? {}) }
  const values = field.enum ?? prop.enum ?? (Array.isArray(prop.oneOf) ? prop.oneOf.map((o) => o.const) : null)
  if (!Array.isArray(values)) return null
  return values.map((v) => [v, labels[v] ?? prop.oneOf?.find((o) => o.const === v)?.title ?? v])
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderLanguages () {
  const nav = $('#languages')
  nav.replaceChildren(...LANGUAGES.map((l) => el('button', {
    type: 'button',
    lang: l,
    'data-lang': l,
    'aria-pressed': l === state.lang ? 'true' : 'false',
    onclick: () => switchLanguage(l),
    text: UI[l].name
  })))
}

function renderField (template, path) {
  const field = form().fields?.[template] ?? {}
  const id = idFor(path)
  const descId = field.description ? `${id}-desc` : null
  const errId = `${id}-err`
  const opts = choices(template, field)
  const common = {
    id,
    name: path,
    'data-field': path,
    required: field.required === true,
    'aria-required': field.required === true ? 'true' : null,
    'aria-invalid': 'false',
    'aria-describedby': [descId, errId].filter(Boolean).join(' ')
  }
  let input
  if (opts) {
    input = el('select', common,
      el('option', { value: '', text: t().choose }),
      opts.map(([v, label]) => el('option', { value: v, text: label })))
  } else {
    const kind = { email: 'email', tel: 'tel', telephone: 'tel', url: 'url' }[field.input] ?? 'text'
    input = el('input', {
      ...common,
      type: kind,
      autocomplete: field.autocomplete ?? 'off',
      maxlength: field.maxLength ?? propertySchema(template).maxLength,
      placeholder: field.example ? String(field.example) : null,
      spellcheck: 'false'
    })
  }
  input.value = state.values.get(path) ?? ''
  return el('div', { class: 'field' },
    el('label', { for: id }, field.title ?? template, field.required ? el('span', { class: 'req', 'aria-hidden': 'true', text: ' *' }) : null),
    descId ? el('p', { id: descId, class: 'hint', text: field.description }) : null,
    input,
    el('p', { id: errId, class: 'error', 'data-error-for': path, 'aria-live': 'polite' }))
}

function renderGroup (group) {
  const repeated = group.fields.some((f) => f.includes('[]'))
  const legend = el('legend', { text: group.title ?? group.id })
  const desc = group.description ? el('p', { class: 'hint', text: group.description }) : null
  if (!repeated) {
    return el('fieldset', { class: 'group', 'data-group': group.id }, legend, desc,
      group.fields.map((f) => renderField(f, f)))
  }
  const base = group.fields[0].split('[]')[0] // "contacts"
  const min = group.minItems ?? 1
  const max = group.maxItems ?? 10
  state.contacts = Math.max(state.contacts, min)
  const rows = []
  for (let i = 0; i < state.contacts; i++) {
    const remove = state.contacts > min
      ? el('button', { type: 'button', class: 'link', onclick: () => removeRow(base, i), text: `${t().removeContact} (${i + 1})` })
      : null
    rows.push(el('fieldset', { class: 'row', 'data-row': `${base}[${i}]` },
      el('legend', { text: `${propertySchema(group.fields[0].split('.')[0]).title ?? ''} ${i + 1}`.trim() }),
      group.fields.map((f) => renderField(f, f.replace('[]', `[${i}]`))),
      remove))
  }
  const add = state.contacts < max
    ? el('button', { type: 'button', class: 'secondary', onclick: addRow, text: t().addContact })
    : null
  return el('fieldset', { class: 'group', 'data-group': group.id }, legend, desc, rows,
    el('p', { id: idFor(base) + '-err', class: 'error', 'data-error-for': base, 'aria-live': 'polite' }),
    add)
}

function renderRequirement (req) {
  const id = idFor(req.id)
  const descId = req.description ? `${id}-desc` : null
  return el('div', { class: 'group terms', 'data-group': req.id },
    descId ? el('p', { id: descId, class: 'hint', text: req.description }) : null,
    el('div', { class: 'check' },
      el('input', {
        type: 'checkbox',
        id,
        'data-requirement': req.id,
        required: req.required === true,
        'aria-required': req.required === true ? 'true' : null,
        'aria-invalid': 'false',
        'aria-describedby': [descId, `${id}-err`].filter(Boolean).join(' '),
        checked: state.accepted[req.id] === true
      }),
      el('label', { for: id }, req.title ?? req.id, req.required ? el('span', { class: 'req', 'aria-hidden': 'true', text: ' *' }) : null)),
    el('p', { id: `${id}-err`, class: 'error', 'data-error-for': req.id, 'aria-live': 'polite' }))
}

function renderForm () {
  document.documentElement.lang = state.lang
  document.title = `${state.schema.title ?? ''} — Confirma`
  renderLanguages()
  const f = form()
  const main = $('#main')
  const summary = el('div', { id: 'summary', class: 'summary', role: 'alert', tabindex: '-1', hidden: true })
  const submit = el('button', { type: 'submit', id: 'submit', class: 'primary', text: t().submit })
  const formEl = el('form', { id: 'onboarding', novalidate: true, 'aria-labelledby': 'title' },
    summary,
    f.groups.map(renderGroup),
    (f.uiRequirements ?? []).map(renderRequirement),
    el('div', { class: 'actions' }, submit))
  formEl.addEventListener('focusout', onLeave)
  formEl.addEventListener('change', onLeave)
  formEl.addEventListener('input', onInput)
  formEl.addEventListener('submit', onSubmit)
  main.replaceChildren(
    el('h1', { id: 'title', text: state.schema.title }),
    state.schema.description ? el('p', { class: 'intro', text: state.schema.description }) : null,
    formEl)
  showIssues()
}

// ---------------------------------------------------------------------------------------------
// Values

function capture () {
  for (const input of document.querySelectorAll('[data-field]')) state.values.set(input.dataset.field, input.value)
  for (const box of document.querySelectorAll('[data-requirement]')) state.accepted[box.dataset.requirement] = box.checked
}

/** The form as the API takes it (empty inputs left out), from the current inputs. */
function payload () {
  capture()
  const out = {}
  for (const [path, raw] of state.values) {
    const value = raw.trim()
    if (value === '') continue
    const keys = path.match(/[^.[\]]+/g)
    let node = out
    keys.forEach((k, i) => {
      const key = /^\d+$/.test(k) ? Number(k) : k
      if (i === keys.length - 1) { node[key] = value; return }
      node[key] ??= /^\d+$/.test(keys[i + 1]) ? [] : {}
      node = node[key]
    })
  }
  // Contact rows: every row is sent (an empty one is reported as missing, not dropped silently).
  const base = form().groups.find((g) => g.fields.some((f) => f.includes('[]')))?.fields[0].split('[]')[0]
  if (base) {
    out[base] ??= []
    for (let i = 0; i < state.contacts; i++) out[base][i] ??= {}
    out[base] = Array.from(out[base], (c) => c ?? {})
  }
  return out
}

function addRow () {
  capture()
  state.contacts++
  renderForm()
  const base = form().groups.find((g) => g.fields.some((f) => f.includes('[]')))
  $(`[data-field="${base.fields[0].replace('[]', `[${state.contacts - 1}]`)}"]`)?.focus()
}

function removeRow (base, index) {
  capture()
  const shift = (map) => {
    const next = new Map()
    for (const [k, v] of map) {
      const m = k.match(new RegExp(`^${base}\\[(\\d+)\\](.*)$`))
      if (!m) { next.set(k, v); continue }
      const i = Number(m[1])
      if (i === index) continue
      next.set(`${base}[${i > index ? i - 1 : i}]${m[2]}`, v)
    }
    return next
  }
  state.values = shift(state.values)
  state.touched = new Set(shift(new Map([...state.touched].map((k) => [k, true]))).keys())
  state.contacts--
  renderForm()
  validate()
  $('[data-group] button.secondary')?.focus()
}

// ---------------------------------------------------------------------------------------------
// Validation (on the server, through the SDK)

async function api (url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

function fieldOf (target) {
  return target?.dataset?.field ?? target?.dataset?.requirement ?? null
}

function onLeave (ev) {
  const field = fieldOf(ev.target)
  if (!field) return
  // `change` of a text input fires on leaving it too: one validation per leave is enough.
  if (ev.type === 'change' && ev.target.tagName === 'INPUT' && ev.target.type !== 'checkbox') return
  state.touched.add(field)
  validate()
}

let inputTimer = null
function onInput (ev) {
  const field = fieldOf(ev.target)
  // While a shown problem is being corrected, check again as the user types (so it goes away when fixed).
  if (!field || !state.issues.some((i) => i.field === field) || !visible(field)) return
  clearTimeout(inputTimer)
  inputTimer = setTimeout(validate, 300)
}

async function validate () {
  const seq = ++state.validateSeq
  const { body } = await api('/api/validate', { lang: state.lang, form: payload(), accepted: state.accepted })
  if (seq !== state.validateSeq) return // a newer check is on its way
  state.issues = body.issues ?? []
  showIssues()
}

function visible (field) {
  if (state.submitted || state.touched.has(field)) return true
  // A problem of the whole contact list (no primary contact) shows once any contact field was visited.
  return !field.includes('.') && !field.includes('[') && [...state.touched].some((t) => t.startsWith(field + '['))
}

function showIssues () {
  const byField = new Map()
  for (const i of state.issues) {
    if (!byField.has(i.field)) byField.set(i.field, [])
    byField.get(i.field).push(i.message)
  }
  for (const p of document.querySelectorAll('[data-error-for]')) {
    const field = p.dataset.errorFor
    const msgs = visible(field) ? byField.get(field) ?? [] : []
    p.textContent = msgs.join(' ')
    const input = document.querySelector(`[data-field="${CSS.escape(field)}"], [data-requirement="${CSS.escape(field)}"]`)
    if (input) input.setAttribute('aria-invalid', msgs.length > 0 ? 'true' : 'false')
    p.closest('.field, .terms, .group')?.classList.toggle('invalid', msgs.length > 0)
  }
}

/** After a rejected submit: every problem, listed at the top with links to the fields. */
function showSummary () {
  const summary = $('#summary')
  // In the order of the page.
  const order = new Map([...document.querySelectorAll('[data-error-for]')].map((e, i) => [e.dataset.errorFor, i]))
  const shown = [...state.issues].sort((a, b) => (order.get(a.field) ?? 1e9) - (order.get(b.field) ?? 1e9))
  if (shown.length === 0) { summary.hidden = true; return }
  const label = (field) => {
    const input = document.querySelector(`[data-field="${CSS.escape(field)}"], [data-requirement="${CSS.escape(field)}"]`)
    const text = input ? document.querySelector(`label[for="${input.id}"]`)?.textContent.replace(/\s*\*$/, '') : null
    return [input, text]
  }
  summary.replaceChildren(
    el('h2', { text: t().summary(shown.length) }),
    el('ul', {}, shown.map((i) => {
      const [input, text] = label(i.field)
      const line = text ? `${text}: ${i.message}` : i.message
      return el('li', {}, input ? el('a', { href: `#${input.id}`, onclick: (e) => { e.preventDefault(); input.focus() }, text: line }) : line)
    })))
  summary.hidden = false
  summary.focus()
}

// ---------------------------------------------------------------------------------------------
// Submitting

async function onSubmit (ev) {
  ev.preventDefault()
  if (state.busy) return
  state.busy = true
  const button = $('#submit')
  button.disabled = true
  button.setAttribute('aria-busy', 'true')
  button.textContent = t().sending
  let res
  try {
    res = await api('/api/onboard', { lang: state.lang, form: payload(), accepted: state.accepted })
  } catch {
    res = { status: 0, body: { outcome: 'failed' } }
  }
  state.busy = false
  const outcome = res.body.outcome
  if (outcome === 'invalid') {
    state.submitted = true
    state.validateSeq++ // any check still on its way is older than this answer
    state.issues = res.body.issues ?? []
    button.disabled = false
    button.removeAttribute('aria-busy')
    button.textContent = t().submit
    showIssues()
    showSummary()
    return
  }
  if (outcome === 'failed') {
    button.disabled = false
    button.removeAttribute('aria-busy')
    button.textContent = t().submit
    const summary = $('#summary')
    summary.replaceChildren(el('p', { text: t().failed }))
    summary.hidden = false
    summary.focus()
    return
  }
  showOutcome(res.body)
}

function dateText (iso) {
  return iso ? new Date(iso).toLocaleString(state.lang === 'en' ? 'en-GB' : `${state.lang}-FI`, { dateStyle: 'medium', timeStyle: 'short' }) : t().never
}

function statusList (r) {
  return el('dl', { class: 'status' },
    el('dt', { text: t().customerCode }), el('dd', { 'data-result': 'customerCode', text: r.customerCode }),
    r.paymentReferencePrefix ? [el('dt', { text: t().referencePrefix }), el('dd', { 'data-result': 'paymentReferencePrefix', text: r.paymentReferencePrefix })] : null,
    el('dt', { text: t().fingerprint }), el('dd', { 'data-result': 'fingerprint' }, el('code', { text: r.token.fingerprint })),
    el('dt', { text: t().state }), el('dd', { 'data-result': 'health', 'data-health': r.token.health, text: t().health[r.token.health] ?? r.token.health }),
    el('dt', { text: t().nextRenewal }), el('dd', { 'data-result': 'nextRenewAt', text: dateText(r.token.nextRenewAt) }),
    el('dt', { text: t().expires }), el('dd', { 'data-result': 'expiresAt', text: dateText(r.token.expiresAt) }))
}

/** created / existing / unknown: the form is gone — nothing invites a second submit. */
function showOutcome (r) {
  state.outcome = r
  document.documentElement.lang = state.lang
  renderLanguages()
  const main = $('#main')
  let section
  if (r.outcome === 'created') {
    section = el('section', { class: 'outcome ok', 'data-outcome': 'created', 'aria-labelledby': 'title' },
      el('h1', { id: 'title', text: t().created }),
      statusList(r),
      el('p', { class: 'hint', text: t().tokenNote }))
  } else if (r.outcome === 'existing') {
    section = el('section', { class: 'outcome info', 'data-outcome': 'existing', 'aria-labelledby': 'title' },
      el('h1', { id: 'title', text: t().existing }),
      el('p', { text: r.customerCode ? t().existingText : t().existingUnknown }),
      r.customerCode ? statusList(r) : null)
  } else {
    section = el('section', { class: 'outcome warn', 'data-outcome': 'unknown', 'aria-labelledby': 'title' },
      el('h1', { id: 'title', text: t().unknown }),
      el('p', { text: t().unknownText }),
      r.reference ? el('p', { class: 'hint' }, `${t().reference}: `, el('code', { text: r.reference })) : null)
  }
  main.replaceChildren(section)
  main.focus()
}

// ---------------------------------------------------------------------------------------------
// Language

async function loadSchema (lang) {
  const res = await fetch(`/api/schema?lang=${encodeURIComponent(lang)}`)
  if (!res.ok) throw new Error(`schema: ${res.status}`)
  return res.json()
}

async function switchLanguage (lang) {
  if (!LANGUAGES.includes(lang) || state.busy) return
  const url = new URL(location.href)
  url.searchParams.set('lang', lang)
  history.replaceState(null, '', url)
  if (state.outcome) {
    state.lang = lang
    showOutcome(state.outcome)
    return
  }
  capture()
  state.schema = await loadSchema(lang)
  state.lang = lang
  renderForm()
  $(`#languages [data-lang="${lang}"]`)?.focus() // the switch was re-rendered: keep the focus on it
  // The problems shown so far, again, in the new language.
  if (state.touched.size > 0 || state.submitted) await validate()
}

async function start () {
  const asked = new URL(location.href).searchParams.get('lang')?.toLowerCase()
  state.lang = LANGUAGES.includes(asked) ? asked : (LANGUAGES.find((l) => navigator.language?.startsWith(l)) ?? 'fi')
  try {
    const [schema, prefill] = await Promise.all([
      loadSchema(state.lang),
      fetch('/api/prefill').then((r) => r.json())
    ])
    state.schema = schema
    for (const [path, value] of Object.entries(prefill.values ?? {})) state.values.set(path.replace('[]', '[0]'), value)
    renderForm()
    document.body.dataset.ready = 'true'
  } catch (e) {
    $('#main').replaceChildren(el('p', { role: 'alert', text: UI[state.lang].loadFailed }))
    console.error(e)
  }
}

start()
