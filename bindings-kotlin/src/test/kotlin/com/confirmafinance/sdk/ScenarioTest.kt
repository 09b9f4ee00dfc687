package com.confirmafinance.sdk

import java.io.File
import kotlin.time.Duration.Companion.milliseconds
import kotlinx.coroutines.runBlocking
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.TestInstance

/** Runs every tests/scenarios/ *.json file (globbed at run time) through the public Kotlin API. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ScenarioTest {
    private lateinit var sandbox: Sandbox

    @BeforeAll
    fun start() { sandbox = Sandbox.start() }

    @AfterAll
    fun stop() { sandbox.close() }

    @TestFactory
    fun scenarios(): List<DynamicTest> {
        val files = File(repoRoot, "tests/scenarios").listFiles { f -> f.name.endsWith(".json") }.orEmpty().sortedBy { it.name }
        assertTrue(files.isNotEmpty(), "no scenario files found under $repoRoot/tests/scenarios")
        return files.map { f -> DynamicTest.dynamicTest(f.nameWithoutExtension) { run(JSONObject(f.readText())) } }
    }

    private fun run(scenario: JSONObject) = runBlocking {
        sandbox.reset()
        scenario.optJSONObject("sandboxConfig")?.let { sandbox.config(it.toString()) }
        val config = clientConfig(scenario.optJSONObject("client") ?: JSONObject())
        val saved = mutableMapOf<String, String>()
        val secrets = { listOf(sandbox.provisioningToken) + saved.values }

        fun resolve(v: Any?): Any? = when (v) {
            is String -> when {
                !v.startsWith("$") -> v
                v == "\$provisioningToken" -> sandbox.provisioningToken
                v == "\$partnerCode" -> sandbox.partnerCode
                v.endsWith(".accessToken") -> saved[v.removePrefix("$").removeSuffix(".accessToken")]
                    ?: fail("scenario refers to unsaved result $v")
                else -> v
            }
            is JSONObject -> JSONObject().also { o -> v.keySet().forEach { k -> o.put(k, resolve(v.get(k))) } }
            is JSONArray -> JSONArray().also { a -> v.forEach { a.put(resolve(it)) } }
            else -> v
        }

        OnboardingClient(config).use { client ->
            val steps = scenario.getJSONArray("steps")
            for (i in 0 until steps.length()) {
                val step = steps.getJSONObject(i)
                val where = "${scenario.getString("name")} step ${i + 1} (${step.getString("op")})"
                val expect = step.optJSONObject("expect")
                when (step.getString("op")) {
                    "createClient" -> {
                        val token = resolve(step.get("token")) as String
                        val json = resolve(step.get("newClient")).toString()
                        val outcome = runCatching { createClient(client, token, json) }
                        check(where, expect!!, outcome, secrets()) { r ->
                            mapOf("hasExpiry" to (r.tokenExpiresAt != null))
                        }
                        save(step, saved, outcome.getOrNull()?.accessToken, outcome)
                    }
                    "validateToken" -> {
                        val token = resolve(step.get("token")) as String
                        val outcome = runCatching { client.validateToken(SecretToken(token)) }
                        check(where, expect!!, outcome, secrets()) { r ->
                            mapOf("isValid" to r.isValid, "expired" to r.expired, "message" to r.message)
                        }
                    }
                    "renewToken" -> {
                        val token = resolve(step.get("token")) as String
                        val outcome = runCatching { client.renewToken(SecretToken(token)) }
                        check(where, expect!!, outcome, secrets()) { r -> mapOf("hasExpiry" to (r.expiresAt != null)) }
                        save(step, saved, outcome.getOrNull()?.accessToken, outcome)
                    }
                    "fault" -> sandbox.fault(step.get("fault").toString())
                    "clearFaults" -> sandbox.clearFaults()
                    "advanceClock" -> sandbox.advanceClock(step.getLong("seconds"))
                    "sleep" -> kotlinx.coroutines.delay(step.getLong("ms"))
                    "expectState" -> {
                        val state = sandbox.state()
                        val want = step.getJSONObject("state")
                        for (k in want.keySet()) {
                            assertTrue(state.has(k), "$where: sandbox state has no key $k: $state")
                            assertTrue(jsonEquals(want.get(k), state.get(k)), "$where: state.$k = ${state.get(k)}, expected ${want.get(k)}")
                        }
                    }
                    else -> fail("$where: unknown op")
                }
            }
        }
    }

    /**
     * A user holding JSON builds the data classes with [NewClient.fromJson] and calls [OnboardingClient.createClient];
     * input that cannot become data classes (wrong types, an unknown role, unknown fields) is rejected by fromJson —
     * then the loosely typed path [OnboardingClient.createClientFromJson] decides, so the outcome is the core's.
     */
    private suspend fun createClient(client: OnboardingClient, token: String, json: String): CreatedClient {
        val parsed = try { NewClient.fromJson(json, client.config.validation) } catch (e: ConfirmaException.Validation) { null }
        return if (parsed != null) client.createClient(SecretToken(token), parsed) else client.createClientFromJson(SecretToken(token), json)
    }

    /**
     * `"save": "x"` keeps the new token as `$x.accessToken`: the result's, or — when the call failed with an error
     * carrying a recovered token (a partial-success create) — the recovered one.
     */
    private fun save(step: JSONObject, saved: MutableMap<String, String>, token: SecretToken?, outcome: Result<*>) {
        val name = step.optString("save").takeIf { it.isNotEmpty() } ?: return
        val t = token ?: (outcome.exceptionOrNull() as? ConfirmaException)?.recoveredToken ?: return
        saved[name] = t.reveal()
    }

    private fun clientConfig(o: JSONObject): ClientConfig {
        var c = ClientConfig(baseUrl = sandbox.baseUrl)
        if (o.has("validation")) c = c.copy(validation = ValidationMode.valueOf(o.getString("validation").uppercase()))
        if (o.has("maxRetries")) c = c.copy(maxRetries = o.getInt("maxRetries"))
        if (o.has("timeoutMs")) c = c.copy(timeout = o.getLong("timeoutMs").milliseconds)
        if (o.has("connectTimeoutMs")) c = c.copy(connectTimeout = o.getLong("connectTimeoutMs").milliseconds)
        if (o.has("totalTimeoutMs")) c = c.copy(totalTimeout = o.getLong("totalTimeoutMs").milliseconds)
        return c
    }

    private fun <T> check(where: String, expect: JSONObject, outcome: Result<T>, secrets: List<String>, fields: (T) -> Map<String, Any?>) {
        val error = outcome.exceptionOrNull()
        if (error != null) {
            if (error !is ConfirmaException) throw AssertionError("$where: not a ConfirmaException", error)
            // Every property, the cause chain, the text and the serialised form: no known token and nothing token-shaped.
            assertNoLeak(error, where, *secrets.toTypedArray())
        }
        if (expect.optBoolean("ok", false)) {
            if (error != null) throw AssertionError("$where: expected success, got ${error::class.simpleName}: ${error.message}", error)
            val want = expect.optJSONObject("result") ?: return
            val got = fields(outcome.getOrThrow())
            for (k in want.keySet()) assertTrue(jsonEquals(want.get(k), got[k]), "$where: result.$k = ${got[k]}, expected ${want.get(k)}")
            return
        }
        val e = expect.getJSONObject("error")
        if (error == null) fail<Unit>("$where: expected ${e.getString("kind")} error, got success ${outcome.getOrNull()}")
        val ex = error as ConfirmaException
        val ctx = "$where: ${ex::class.simpleName}: ${ex.message}"
        assertEquals(e.getString("kind"), ex.kind.id, ctx)
        assertEquals("CONFIRMA_" + e.getString("kind").uppercase(), ex.code, ctx)
        if (e.has("source")) assertEquals(e.getString("source"), (ex as ConfirmaException.Validation).source.name.lowercase(), ctx)
        if (e.has("fields")) {
            val want = e.getJSONArray("fields").map { it as String }
            val got = if (ex is ConfirmaException.Validation) ex.fieldErrors.keys.toList() else emptyList()
            assertEquals(want, got, ctx)
        }
        if (e.has("status")) assertEquals(if (e.isNull("status")) null else e.getInt("status"), ex.status, ctx)
        if (e.has("retryable")) assertEquals(e.getBoolean("retryable"), ex.retryable, ctx)
        if (e.has("retryAfterSeconds")) {
            val ra = when (ex) {
                is ConfirmaException.RateLimited -> ex.retryAfter
                is ConfirmaException.ServiceUnavailable -> ex.retryAfter
                else -> null
            }
            assertEquals(if (e.isNull("retryAfterSeconds")) null else e.getLong("retryAfterSeconds"), ra?.inWholeSeconds, ctx)
        }
        if (e.has("causeKind")) assertEquals(e.getString("causeKind"), (ex as ConfirmaException.OutcomeUnknown).cause.kind.id, ctx)
        if (e.has("recoveredToken")) assertEquals(e.getBoolean("recoveredToken"), ex.recoveredToken != null, "$ctx: recoveredToken")
        if (e.has("rawResponse")) assertEquals(e.getBoolean("rawResponse"), ex.rawResponse != null, "$ctx: rawResponse")
    }

    private fun jsonEquals(want: Any?, got: Any?): Boolean = when {
        want == JSONObject.NULL -> got == null || got == JSONObject.NULL
        want is Number && got is Number -> want.toDouble() == got.toDouble()
        want is JSONObject && got is JSONObject -> want.similar(got)
        want is JSONArray && got is JSONArray -> want.similar(got)
        else -> want == got
    }
}
