// Types of the onboarding form kit (lib/form.js): the form's JSON Schema, validation issues with stable
// codes, missing fields, the end-user message catalogues. Re-exported by index.d.ts.

/** The end-user language of messages, titles and labels: Finnish, Swedish or English. */
export type FormLanguage = 'fi' | 'sv' | 'en' | (string & {})

/** One problem with one field, with a stable code. */
export interface FieldIssue {
  /** API field path: `client.businessCode`, `contacts[0].email`, `service.type`; `$` for the whole form. */
  readonly field: string
  /** Stable code: `required`, `business_id_format`, `business_id_check_digit`, `vat_mismatch`, … (the catalogue's keys). */
  readonly code: string
  /** The code's parameters (`{ expected: 'FI15728600' }`); never a token. */
  readonly params: Readonly<Record<string, string>>
  /** Developer English (for a problem the service reported, the service's text). */
  readonly message: string
  /** End-user text in the chosen language. */
  readonly userMessage: string
}

/** One field of the form in `x-confirma-form.fields`. */
export interface FormFieldSpec {
  title: string
  description: string
  required: boolean
  group: string
  /** `text`, `email`, `tel`, `select`, `hidden`. */
  input: string
  autocomplete?: string
  pattern?: string
  patternByCountry?: Record<string, string>
  maxLength?: number
  example?: string
  options?: { value: string; label: string }[]
  prefill?: boolean
  hidden?: boolean
  [key: string]: unknown
}

/** The UI extension of the form schema: what a page renders from. */
export interface ConfirmaFormExtension {
  language: 'fi' | 'sv' | 'en'
  /** The groups in display order (`service`, `company`, `contacts`), each with its field paths (array items as `contacts[]`). */
  groups: { id: string; title: string; fields: string[]; minItems?: number; [key: string]: unknown }[]
  /** Fields partners commonly prefill from their own records. */
  prefill: string[]
  /** Steps the UI must require that the API payload does not carry (accepting the terms). */
  uiRequirements: { id: string; title: string; description: string; required: boolean; code: string; message: string }[]
  /** Field path → its title, description, input kind, …, in display order. */
  fields: Record<string, FormFieldSpec>
  /** The message catalogue in this language: code → template with `{param}` placeholders. */
  messages: Record<string, string>
  [key: string]: unknown
}

/** The form's JSON Schema (2020-12) plus `x-confirma-form`. */
export interface FormSchema {
  $schema: string
  title: string
  description: string
  properties: Record<string, unknown>
  required: string[]
  'x-confirma-form': ConfirmaFormExtension
  [key: string]: unknown
}

/**
 * The onboarding form's JSON Schema in a language (default English), generated from the core's rules.
 * @throws {ConfigurationError} for a language other than fi, sv, en.
 */
export declare function formSchema(language?: FormLanguage): FormSchema

/**
 * Every problem of a form (any value: complete, partial or not an object at all), as the SDK would report
 * them before sending. `[]` means the form would be sent.
 * @throws {ConfigurationError} for an unknown language or validation mode.
 */
export declare function validateForm(
  form: unknown,
  options?: { language?: FormLanguage; validation?: 'strict' | 'lenient' }
): readonly FieldIssue[]

/** What is still missing from a partially filled (e.g. prefilled) form: one `required` issue per empty required field. */
export declare function missingFields(form: unknown, options?: { language?: FormLanguage }): readonly FieldIssue[]

/** Message code → end-user template (`{param}` placeholders) in a language. */
export declare function messageCatalog(language?: FormLanguage): Readonly<Record<string, string>>
