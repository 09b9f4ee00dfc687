// Compile-time checks of the form kit's public types (tsc --noEmit; never executed).
import {
  ConfigurationError, OnboardingClient, ValidationError, formSchema, messageCatalog, missingFields, validateForm,
  type FieldIssue, type FormSchema, type FormLanguage
} from 'confirma-sdk'

export function formUsage (form: unknown): string[] {
  const lang: FormLanguage = 'fi'
  const schema: FormSchema = formSchema(lang)
  const groups: string[] = schema['x-confirma-form'].groups.map((g) => g.title)
  const terms: boolean = schema['x-confirma-form'].uiRequirements.every((r) => r.required)
  const issues: readonly FieldIssue[] = validateForm(form, { language: 'sv', validation: 'lenient' })
  const missing: readonly FieldIssue[] = missingFields({ client: {} }, { language: 'en' })
  const text: string = messageCatalog('fi').required + (issues[0]?.userMessage ?? '') + (missing[0]?.params.x ?? '')
  const client = new OnboardingClient({ baseUrl: 'http://127.0.0.1:1', language: 'sv' })
  client.createClient('ppt', { service: { type: 'LIFECYCLE', partnerCode: 'P' } } as never).catch((e: unknown) => {
    if (e instanceof ValidationError) console.log(e.issues.map((i) => `${i.field} ${i.code} ${i.userMessage}`))
    if (e instanceof ConfigurationError) console.log(e.message)
  })
  // @ts-expect-error: the issues are read-only
  issues[0].code = 'x'
  return [...groups, String(terms), text]
}
