package com.confirmafinance.sdk

import java.net.ServerSocket
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * The Kotlin layer is a translation of the core's `confirma::ffi`: the values below are decided by the core (its
 * bounds, its User-Agent, its models), and reach Kotlin unchanged. Public API only; no sandbox needed.
 */
class TranslationTest {
    private fun form(serviceType: String) = """{"service":{"type":"$serviceType","partnerCode":"P1"},"client":{"name":"A Oy",
        "businessCode":"1572860-0","postalAddress":"Katu 1","postalCode":"00100","postalDistrict":"HELSINKI","countryCode":"FI",
        "email":"a@b.fi","languageCode":"FI"},"contacts":[{"role":"PRIMARY","name":"A","email":"a@b.fi"}]}"""

    @Test
    fun `the core's models cross both ways, and a service type Kotlin's enum cannot hold is a validation error`() {
        for (t in ServiceType.entries) assertEquals(t, NewClient.fromJson(form(t.name)).service.serviceType)
        assertEquals(ServiceType.COOP, NewClient.fromJson(form("co_op"), ValidationMode.LENIENT).service.serviceType)
        // Strict: the core rejects it. Lenient: the core keeps it (ServiceType::Other), which the enum cannot hold.
        for (mode in ValidationMode.entries) {
            val e = assertFailsWith<ConfirmaException.Validation>("$mode") { NewClient.fromJson(form("PAYROLL"), mode) }
            assertEquals(listOf("must be one of LIFECYCLE, INTERMEDIATION, COOP"), e.fieldErrors["service.type"], "$mode")
        }
        // A string Kotlin cannot hand over is the core's validation error, worded as the core words any other.
        val notJson = assertFailsWith<ConfirmaException.Validation> { NewClient.fromJson("{not json") }
        val notUnicode = assertFailsWith<ConfirmaException.Validation> { SecretToken("abc\uD800") }
        assertEquals(notJson.detail, notUnicode.detail)
        assertEquals("request is invalid (1 problem): token: is not valid Unicode (contains an unpaired UTF-16 surrogate)", notUnicode.message)
        assertEquals(ValidationSource.CLIENT, notUnicode.source)
        // Positional construction keeps Kotlin's field order (optional fields last, defaulting to null).
        val details = ClientDetails("A Oy", "1572860-0", "Katu 1", "00100", "HELSINKI", "FI", "a@b.fi", "FI")
        assertEquals(null, details.vatRegNbr)
        assertEquals("FI", details.languageCode)
    }

    @Test
    fun `configuration values are judged by the core, which names the option as Kotlin spells it`() {
        for ((config, message) in listOf(
            ClientConfig(maxRetries = 11) to "configuration error: maxRetries must be at most 10",
            ClientConfig(maxRetries = -1) to "configuration error: maxRetries must be a non-negative integer (at most 10)",
            ClientConfig(maxResponseBytes = 1023) to "configuration error: maxResponseBytes must be between 1 KiB and 64 MiB",
        )) {
            assertEquals(message, assertFailsWith<ConfirmaException.Configuration> { OnboardingClient(config) }.message)
        }
        OnboardingClient(ClientConfig(environment = Environment.PRODUCTION, userAgentSuffix = " erp/7 ")).use {
            assertEquals("https://integrations.confirmafinance.com/", it.baseUrl)
            // The SDK version as Maven built it (the POM's project version, which scripts/version --check keeps
            // equal to the workspace's): no version literal to update here.
            val version = checkNotNull(System.getProperty("confirma.version")) { "Maven sets confirma.version" }
            assertTrue(it.userAgent.endsWith(" kotlin/${KotlinVersion.CURRENT} confirma-kotlin/$version erp/7"), it.userAgent)
        }
    }

    @Test
    fun `a network error says whether it failed while connecting`() = runBlocking {
        val closedPort = ServerSocket(0).use { it.localPort }
        OnboardingClient(ClientConfig(baseUrl = "http://127.0.0.1:$closedPort", maxRetries = 0)).use { nowhere ->
            val e = assertFailsWith<ConfirmaException.Network> { nowhere.validateToken("some-token-123456") }
            assertEquals(true, e.connect)
        }
    }
}
