package com.confirmafinance.sdk

/**
 * One problem with one field of an onboarding form.
 *
 * @property field The API field path (`client.businessCode`, `contacts[0].email`, `service.type`).
 * @property code The stable code (`business_id_check_digit`); every code is a key of [FormSchema.messages].
 * @property params The code's parameters (`{"expected": "FI15728600"}`).
 * @property message Developer English, exactly as in [ConfirmaException.Validation.fieldErrors] (for a
 *   server-side problem, the server's text).
 * @property userMessage The end-user text in the chosen language (`fi`, `sv`, `en`), for the form's UI.
 */
data class FieldIssue(
    val field: String,
    val code: String,
    val params: Map<String, String>,
    val message: String,
    val userMessage: String,
) : java.io.Serializable {
    internal companion object {
        fun of(n: NativeFieldIssue): FieldIssue =
            FieldIssue(n.field, n.code, n.params.toSortedMap(), n.message, n.userMessage)
    }
}

/**
 * The onboarding form kit: the form's JSON Schema, field checks with end-user messages in Finnish, Swedish and
 * English, and what a prefilled form still lacks. Everything comes from the Rust core (its validation rules and
 * message catalogues); forms are JSON text shaped like the API contract.
 *
 * ```kotlin
 * val schema = FormSchema.get("fi")                      // JSON Schema 2020-12 + "x-confirma-form" (JSON text)
 * FormSchema.validate(formJson, "fi").forEach { show(it.field, it.userMessage) }
 * val todo = FormSchema.missingFields(prefilledJson)     // the required fields still empty
 * ```
 *
 * An unknown language is [ConfirmaException.Configuration]; text that is not JSON is
 * [ConfirmaException.Validation] on `form`.
 */
object FormSchema {
    /**
     * The onboarding form's JSON Schema (2020-12) in [language] (`fi`, `sv`, `en`), as JSON text: localized
     * titles and descriptions, service types and contact roles with localized labels, patterns, required fields,
     * and the `x-confirma-form` extension (groups and field order, prefill, the terms step, the messages).
     */
    @JvmStatic
    @JvmOverloads
    fun get(language: String = "en"): String = translate("language") { nativeFormSchema(language) }

    /** Every problem of a form (JSON text), as the SDK would report it before sending; empty = it would be sent. */
    @JvmStatic
    @JvmOverloads
    fun validate(
        formJson: String,
        language: String = "en",
        validation: ValidationMode = ValidationMode.STRICT,
    ): List<FieldIssue> = translate("form") { nativeValidateForm(formJson, language, validation) }.map(FieldIssue::of)

    /**
     * The required fields a partly filled (e.g. prefilled) form still lacks, each a `required` [FieldIssue]
     * (`contacts` when there is no contact; the partner code never: the partner fills it).
     */
    @JvmStatic
    @JvmOverloads
    fun missingFields(formJson: String, language: String = "en"): List<FieldIssue> =
        translate("form") { nativeMissingFields(formJson, language) }.map(FieldIssue::of)

    /** Code → end-user message template (`{param}` placeholders) in [language], sorted by code. */
    @JvmStatic
    @JvmOverloads
    fun messages(language: String = "en"): Map<String, String> =
        translate("language") { nativeMessageCatalog(language) }.toSortedMap()
}
