package com.confirmafinance.sdk

import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** The onboarding form kit through the public API: FormSchema, FieldIssue, Validation.issues, ClientConfig.language. */
class FormSchemaTest : SandboxedTest("confirma-form", 97_000) {
    private fun form(businessCode: String = "1572860-0", vat: String = "FI15728600", partner: String = "QUICK3") = """
        {"service": {"type": "LIFECYCLE", "partnerCode": "$partner"},
         "client": {"name": "Lomake Oy", "businessCode": "$businessCode", "vatRegNbr": "$vat", "postalAddress": "Katu 1",
                    "postalCode": "00100", "postalDistrict": "HELSINKI", "countryCode": "FI", "email": "info@lomake.fi",
                    "languageCode": "FI"},
         "contacts": [{"role": "PRIMARY", "name": "Liisa Lomake", "email": "liisa@lomake.fi"}]}
    """.trimIndent()

    @Test
    fun `the schema in each language`() {
        for ((lang, title) in listOf("fi" to "Y-tunnus", "sv" to "FO-nummer", "en" to "Business ID")) {
            val schema = JSONObject(FormSchema.get(lang))
            assertEquals("https://json-schema.org/draft/2020-12/schema", schema.getString("\$schema"))
            val bid = schema.getJSONObject("properties").getJSONObject("client").getJSONObject("properties").getJSONObject("businessCode")
            assertEquals(title, bid.getString("title"))
            val ui = schema.getJSONObject("x-confirma-form")
            assertEquals(lang, ui.getString("language"))
            assertEquals("acceptTerms", ui.getJSONArray("uiRequirements").getJSONObject(0).getString("id"))
            assertEquals(FormSchema.messages(lang).keys, ui.getJSONObject("messages").keySet().toSortedSet())
        }
        assertEquals(FormSchema.get(), FormSchema.get("en"))
        assertFailsWith<ConfirmaException.Configuration> { FormSchema.get("de") }
    }

    @Test
    fun `validate gives codes and end-user messages in three languages`() {
        assertEquals(emptyList(), FormSchema.validate(form()))
        val bad = form(businessCode = "1572860-1", vat = "")
        val fi = FormSchema.validate(bad, "fi").single()
        assertEquals("client.businessCode", fi.field)
        assertEquals("business_id_check_digit", fi.code)
        assertTrue(fi.message.startsWith("must be a Finnish Business ID"), "developer English unchanged")
        assertTrue(fi.userMessage.startsWith("Y-tunnus ei ole oikein"), fi.userMessage)
        assertTrue(FormSchema.validate(bad, "sv").single().userMessage.startsWith("FO-numret är inte korrekt"))
        assertTrue(FormSchema.validate(bad, "en").single().userMessage.startsWith("The Business ID is not correct"))
        assertEquals(emptyList(), FormSchema.validate(bad, "en", ValidationMode.LENIENT))
        val vat = FormSchema.validate(form(vat = "FI01120389"), "fi").single()
        assertEquals("vat_mismatch" to mapOf("expected" to "FI15728600"), vat.code to vat.params)
        // Any shape is a list of issues; text that is not JSON is a typed error.
        assertEquals("form_object", FormSchema.validate("[1, 2]").single().code)
        val notJson = assertFailsWith<ConfirmaException.Validation> { FormSchema.validate("{nope") }
        assertEquals(setOf("form"), notJson.fieldErrors.keys)
        assertFailsWith<ConfirmaException.Configuration> { FormSchema.validate(form(), "xx") }
    }

    @Test
    fun `missing fields of a prefilled form and the catalogue`() {
        val prefilled = """{"client": {"name": "Lomake Oy", "businessCode": "1572860-0", "countryCode": "FI"}}"""
        val missing = FormSchema.missingFields(prefilled, "sv")
        assertEquals(
            listOf("client.email", "client.languageCode", "client.postalAddress", "client.postalCode", "client.postalDistrict", "contacts", "service.type"),
            missing.map { it.field },
        )
        assertEquals(setOf("Uppgiften är obligatorisk."), missing.map { it.userMessage }.toSet())
        assertEquals(emptyList(), FormSchema.missingFields(form()))
        val catalogs = listOf("fi", "sv", "en").map { FormSchema.messages(it) }
        assertEquals(catalogs[0].keys, catalogs[1].keys)
        assertEquals(catalogs[1].keys, catalogs[2].keys)
        assertTrue(catalogs[2].keys.containsAll(listOf("required", "business_id_check_digit", "terms_required")))
    }

    @Test
    fun `a client's validation errors carry issues in its language`() = runBlocking {
        OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, language = "fi")).use { fiClient ->
            val e = assertFailsWith<ConfirmaException.Validation> {
                fiClient.createClient(sandbox.provisioningToken, NewClient.fromJson(form(businessCode = "1572860-1", vat = "", partner = sandbox.partnerCode), ValidationMode.LENIENT))
            }
            // Lenient parse, strict client: the client-side check finds the check digit.
            assertEquals(ValidationSource.CLIENT, e.source)
            val issue = e.issues.single()
            assertEquals("business_id_check_digit", issue.code)
            assertTrue(issue.userMessage.startsWith("Y-tunnus ei ole oikein"), issue.userMessage)
            assertEquals(mapOf("client.businessCode" to listOf(issue.message)), e.fieldErrors)
            // parseNewClient uses the client's language too.
            val parsed = assertFailsWith<ConfirmaException.Validation> { fiClient.parseNewClient("""{"client": {}}""") }
            assertTrue(parsed.issues.any { it.userMessage == "Tämä tieto on pakollinen." })
        }
        // Server-side: lenient client, strict sandbox; the server's text is kept, the code recognised.
        OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, language = "sv", validation = ValidationMode.LENIENT)).use { svClient ->
            val json = JSONObject(form(businessCode = businessId(seeds.incrementAndGet()), vat = "", partner = sandbox.partnerCode))
            json.getJSONObject("client").put("postalCode", "123")
            val e = assertFailsWith<ConfirmaException.Validation> {
                svClient.createClient(sandbox.provisioningToken, NewClient.fromJson(json.toString(), ValidationMode.LENIENT))
            }
            assertEquals(ValidationSource.SERVER, e.source)
            val issue = e.issues.single { it.field == "client.postalCode" }
            assertTrue(issue.message in e.fieldErrors.getValue("client.postalCode"), "the server's text")
            assertEquals("postal_code_format", issue.code)
            assertEquals("Postnumret ska bestå av 5 siffror, till exempel 00100.", issue.userMessage)
        }
        // Default English; an unknown language is a configuration error.
        assertFailsWith<ConfirmaException.Configuration> { OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, language = "de")) }
        assertEquals("en", ClientConfig().language)
        assertEquals("fi", ClientConfig.builder().language("fi").build().language)
    }
}
