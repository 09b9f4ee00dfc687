package com.confirmafinance.sdk

import java.io.File
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * The Kotlin runner of the cross-language parity test (tests/parity/README.md): writes `<repo>/target/parity/kotlin.json`
 * with (1) every sample error of the core (`confirma::ffi::samples::errors()`, through the internal [sampleErrors]) as
 * the public [ConfirmaException] reads it, and (2) for every case of tests/parity/configs.json, the effective
 * configuration of a client built through the public constructor (read back with the internal
 * [OnboardingClient.describeConfig]) or the error the constructor threw. `tests/parity/compare.py` checks the file.
 *
 * Units: configs.json durations are seconds, turned into `kotlin.time.Duration`. Spellings: Kotlin's public
 * [ClientConfig] takes [Environment] and [ValidationMode] enums, so an environment spelling (`"prod"`, `" Production "`,
 * `"dev"`, `""`) is passed as it is through the internal native config (`NativeClientConfig.environment`, the string
 * the core parses) of the same public [ClientConfig]; a validation spelling is the enum constant of that name (a
 * spelling no constant has is listed in the case's `skip`).
 */
class ParityTest {
    @Test
    fun `the parity file holds every sample error and every configuration case`() {
        val errors = JSONObject()
        val samples = sampleErrors()
        for ((name, e) in samples) errors.put(name, dump(e))
        checkSamples(samples)

        val cases = JSONObject(File(repoRoot, "tests/parity/configs.json").readText()).getJSONArray("cases")
        val configs = JSONObject()
        for (i in 0 until cases.length()) {
            val case = cases.getJSONObject(i)
            val name = case.getString("name")
            val skip = case.optJSONObject("skip")?.optString("kotlin")?.takeIf { it.isNotEmpty() }
            configs.put(name, if (skip != null) JSONObject().put("skipped", skip) else outcome(name, case.getJSONObject("options")))
        }
        assertTrue(cases.length() > 30, "configs.json has its cases")
        checkConfigs(configs)

        val out = File(repoRoot, "target/parity/kotlin.json")
        out.parentFile.mkdirs()
        out.writeText(JSONObject().put("language", "kotlin").put("errors", errors).put("configs", configs).toString(2) + "\n")
        println("parity: ${samples.size} errors, ${cases.length()} configuration cases -> $out")
    }

    /** Builds a client for one case through the public constructor; its effective configuration, or its error. */
    private fun outcome(name: String, options: JSONObject): JSONObject {
        var config = ClientConfig()
        var environment: String? = null
        for (key in options.keySet()) {
            val v = options.get(key)
            config = when (key) {
                "environment" -> config.also { environment = v as String }
                "baseUrl" -> config.copy(baseUrl = v as String)
                "timeout" -> config.copy(timeout = duration(v))
                "connectTimeout" -> config.copy(connectTimeout = duration(v))
                "totalTimeout" -> config.copy(totalTimeout = duration(v))
                "maxRetries" -> config.copy(maxRetries = integer(name, v))
                "maxResponseBytes" -> config.copy(maxResponseBytes = integer(name, v))
                "validation" -> config.copy(validation = ValidationMode.entries.firstOrNull { it.name.equals((v as String).trim(), ignoreCase = true) }
                    ?: fail("$name: ValidationMode has no constant for '$v' (add a kotlin skip to the case)"))
                "userAgentSuffix" -> config.copy(userAgentSuffix = v as String)
                "proxy" -> config.copy(proxy = v as String)
                "rootCertificatesPem" -> config.copy(extraRootCertificatesPem = v as String)
                else -> fail("$name: the runner does not know the option '$key'")
            }
        }
        val native = config.toNative().let { n -> environment?.let { n.copy(environment = it) } ?: n }
        return try {
            OnboardingClient(config, native).use { JSONObject().put("ok", true).put("config", JSONObject(it.describeConfig())) }
        } catch (e: ConfirmaException) {
            JSONObject().put("ok", false).put("code", e.code).put("kind", e.kind.id).put("message", e.detail)
        }
    }

    private fun duration(v: Any): Duration = when (v) {
        is Number -> v.toDouble()
        "NaN" -> Double.NaN
        "Infinity" -> Double.POSITIVE_INFINITY
        "-Infinity" -> Double.NEGATIVE_INFINITY
        else -> fail("not a number of seconds: $v")
    }.seconds

    private fun integer(name: String, v: Any): Int {
        val d = (v as Number).toDouble()
        if (d != Math.rint(d) || d !in Int.MIN_VALUE.toDouble()..Int.MAX_VALUE.toDouble()) fail("$name: $v is not a Kotlin Int (add a kotlin skip)")
        return d.toInt()
    }

    private fun checkSamples(samples: Map<String, ConfirmaException>) {
        assertTrue(samples.size >= 16, "every kind has a sample: ${samples.keys}")
        for ((name, e) in samples) {
            assertEquals("CONFIRMA_" + e.kind.name, e.code, name)
            assertEquals(e.message, dump(e).getString("display"), name)
            assertNull(TOKEN_SHAPE.find(e.toString()), name)
        }
        assertEquals(ErrorKind.entries.toSet(), samples.values.map { it.kind }.toSet(), "every kind")
        assertIs<ConfirmaException.Internal>(samples["internal_panic"])
        assertEquals(true, assertIs<ConfirmaException.Network>(samples["network_connect"]).connect)
        assertEquals(false, assertIs<ConfirmaException.Network>(samples["network_broken"]).connect)
        assertEquals(2500L, assertIs<ConfirmaException.RateLimited>(samples["rate_limited"]).retryAfterMillis)
        val recovered = assertIs<ConfirmaException.OutcomeUnknown>(samples["outcome_unknown_recovered"])
        assertEquals("tok_recovered_0123456789", recovered.recoveredToken?.reveal())
        assertEquals("tok_recovered_0123456789", recovered.cause.recoveredToken?.reveal())
        assertIs<ConfirmaException.UnexpectedResponse>(recovered.cause)
        assertEquals("[REDACTED]", recovered.recoveredToken.toString())
        assertEquals(Operation.RENEW_TOKEN, assertIs<ConfirmaException.OutcomeUnknown>(samples["outcome_unknown_renew"]).operation)
        assertEquals(ValidationSource.SERVER, assertIs<ConfirmaException.Validation>(samples["validation_server"]).source)
    }

    private fun checkConfigs(configs: JSONObject) {
        val defaults = configs.getJSONObject("defaults").getJSONObject("config")
        assertEquals("staging", defaults.getString("environment"))
        assertEquals(30_000, defaults.getInt("timeoutMs"))
        assertEquals(2, defaults.getInt("maxRetries"))
        assertTrue(defaults.getString("userAgentSuffix").startsWith("kotlin/${KotlinVersion.CURRENT} confirma-kotlin/"), defaults.toString())
        assertEquals("production", configs.getJSONObject("environment_prod_short").getJSONObject("config").getString("environment"))
        assertEquals("CONFIRMA_CONFIGURATION", configs.getJSONObject("environment_unknown").getString("code"))
        assertTrue(configs.getJSONObject("max_retries_eleven").getString("message").contains("maxRetries"))
        assertEquals(1500, configs.getJSONObject("timeouts_custom").getJSONObject("config").getInt("connectTimeoutMs"))
        assertEquals("kotlin.time.Duration cannot be NaN", configs.getJSONObject("timeout_nan").getString("skipped"))
    }

    companion object {
        /** An `ErrorDump` of tests/parity/README.md, read from the public exception. */
        fun dump(e: ConfirmaException): JSONObject = JSONObject()
            .put("kind", e.kind.id)
            .put("code", e.code)
            .put("message", e.detail)
            .put("display", e.message)
            .put("status", e.status ?: JSONObject.NULL)
            .put("requestId", e.requestId ?: JSONObject.NULL)
            .put("retryable", e.retryable)
            .put("retryAfterMs", when (e) {
                is ConfirmaException.RateLimited -> e.retryAfter?.inWholeMilliseconds
                is ConfirmaException.ServiceUnavailable -> e.retryAfter?.inWholeMilliseconds
                else -> null
            } ?: JSONObject.NULL)
            .put("fieldErrors", JSONObject((e as? ConfirmaException.Validation)?.fieldErrors ?: emptyMap<String, List<String>>()))
            .put("issues", JSONArray(((e as? ConfirmaException.Validation)?.issues ?: emptyList()).map {
                JSONObject().put("field", it.field).put("code", it.code).put("params", JSONObject(it.params))
                    .put("message", it.message).put("userMessage", it.userMessage)
            }))
            .put("source", (e as? ConfirmaException.Validation)?.source?.name?.lowercase() ?: JSONObject.NULL)
            .put("operation", (e as? ConfirmaException.OutcomeUnknown)?.operation?.name?.lowercase() ?: JSONObject.NULL)
            .put("connect", (e as? ConfirmaException.Network)?.connect ?: JSONObject.NULL)
            .put("bodyExcerpt", (e as? ConfirmaException.UnexpectedResponse)?.bodyExcerpt ?: JSONObject.NULL)
            .put("recoveredToken", e.recoveredToken?.reveal() ?: JSONObject.NULL)
            .put("rawResponse", e.rawResponse?.reveal() ?: JSONObject.NULL)
            .put("cause", (e as? ConfirmaException.OutcomeUnknown)?.cause?.let { dump(it) } ?: JSONObject.NULL)
    }
}
