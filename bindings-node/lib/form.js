'use strict'
// The onboarding form kit of confirma-sdk: the form's JSON Schema, its validation with stable message codes,
// what is missing from a prefilled form, and the end-user message catalogues (Finnish, Swedish, English).
// Everything — the rules, the codes, the texts and the schema — is the Rust core's (`confirma::form`); this
// file only translates arguments and answers.

/** A FieldIssue as the public API gives it: a frozen plain object. */
function fieldIssue (i) {
  return Object.freeze({
    field: i.field,
    code: i.code,
    params: Object.freeze({ ...(i.params ?? {}) }),
    message: i.message,
    userMessage: i.userMessage
  })
}

module.exports = function formKit ({ native, fromNative, guarded, describe, ConfigurationError }) {
  // Like the client's options: a wrong language, mode or option is a ConfigurationError.
  const bad = (msg) => new ConfigurationError(`configuration error: ${msg}`)

  function languageArg (language, where) {
    if (language === undefined || language === null) return undefined
    if (typeof language !== 'string') {
      throw bad(`${where} must be a string: 'fi', 'sv' or 'en' (received ${describe(language)})`)
    }
    return language // its value is judged by the core (an unknown one is a ConfigurationError)
  }

  function optionsArg (options, name, keys) {
    if (options === undefined || options === null) return {}
    if (typeof options !== 'object' || Array.isArray(options)) {
      throw bad(`${name} options must be an object (received ${describe(options)})`)
    }
    for (const key of Object.keys(options)) {
      if (!keys.includes(key)) throw bad(`${name}: unknown option \`${key}\` (known: ${keys.join(', ')})`)
    }
    return options
  }

  function formArg (form) {
    let json
    try {
      json = JSON.stringify(form === undefined ? null : form)
    } catch (e) {
      throw new TypeError(`form must be a plain, JSON-serialisable object: ${e.message}`)
    }
    return json === undefined ? 'null' : json
  }

  /** The native `{ json } | { error }` answer → the parsed value, or the SDK error thrown. */
  function answer (outcome) {
    if (outcome.error) throw fromNative(outcome.error)
    return JSON.parse(outcome.json)
  }

  // The schema is the same for the life of the process: each language's text is kept, and every call
  // returns a fresh object (callers may change theirs).
  const schemaText = new Map()

  /**
   * The onboarding form's JSON Schema (2020-12) in a language (`'fi'`, `'sv'`, `'en'`; default English),
   * with the `x-confirma-form` extension a UI renders from.
   */
  function formSchema (language = 'en') {
    const lang = languageArg(language, 'language') ?? 'en'
    let text = schemaText.get(lang)
    if (text === undefined) {
      const outcome = guarded(() => native.formSchema(lang))
      if (outcome.error) throw fromNative(outcome.error)
      text = outcome.json
      schemaText.set(lang, text)
    }
    return JSON.parse(text)
  }

  /** Every problem of a form, as the SDK would report them before sending (`[]` = it would be sent). */
  function validateForm (form, options) {
    const o = optionsArg(options, 'validateForm', ['language', 'validation'])
    const json = formArg(form)
    const language = languageArg(o.language, 'options.language')
    if (o.validation !== undefined && o.validation !== null && typeof o.validation !== 'string') {
      throw bad(`options.validation must be 'strict' or 'lenient' (received ${describe(o.validation)})`)
    }
    return Object.freeze(answer(guarded(() => native.validateForm(json, language, o.validation ?? undefined))).map(fieldIssue))
  }

  /** What is still missing from a partially filled (prefilled) form: `required` issues only. */
  function missingFields (form, options) {
    const o = optionsArg(options, 'missingFields', ['language'])
    const json = formArg(form)
    const language = languageArg(o.language, 'options.language')
    return Object.freeze(answer(guarded(() => native.missingFields(json, language))).map(fieldIssue))
  }

  /** Message code → end-user template (with `{param}` placeholders) in a language. */
  function messageCatalog (language = 'en') {
    const lang = languageArg(language, 'language') ?? 'en'
    return Object.freeze(answer(guarded(() => native.messageCatalog(lang))))
  }

  return { formSchema, validateForm, missingFields, messageCatalog }
}

module.exports.fieldIssue = fieldIssue
