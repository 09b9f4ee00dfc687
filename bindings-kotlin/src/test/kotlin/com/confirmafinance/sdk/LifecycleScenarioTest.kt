package com.confirmafinance.sdk

import java.io.File
import java.nio.file.Files
import java.util.Collections
import kotlin.time.Duration.Companion.milliseconds
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
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

/**
 * Runs every tests/scenarios/lifecycle/ *.json file (spec: tests/scenarios/lifecycle/README.md; the Rust runner,
 * core/tests/scenarios.rs, is the reference) through the public Kotlin API: managers built the way a user builds
 * them, `client.createClient(token, form, store = store)`, events collected from `manager.events`.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LifecycleScenarioTest {
    private lateinit var sandbox: Sandbox

    @BeforeAll
    fun start() { sandbox = Sandbox.start() }

    @AfterAll
    fun stop() { sandbox.close() }

    @TestFactory
    fun scenarios(): List<DynamicTest> {
        val files = File(repoRoot, "tests/scenarios/lifecycle").listFiles { f -> f.name.endsWith(".json") }.orEmpty().sortedBy { it.name }
        assertTrue(files.isNotEmpty(), "no lifecycle scenario files under $repoRoot/tests/scenarios/lifecycle")
        return files.map { f -> DynamicTest.dynamicTest(f.nameWithoutExtension) { Run(JSONObject(f.readText())).run() } }
    }

    /** The outcome of one call: the token it produced (if any) and the result fields the scenario may compare. */
    private class Outcome(val token: String?, val result: Map<String, Any?>)

    private inner class Run(val scenario: JSONObject) {
        val name: String = scenario.getString("name")
        val saved = mutableMapOf<String, String>()
        val managers = mutableMapOf<String, TokenManager>()
        val stores = mutableListOf<CredentialStore>()
        val seen = mutableMapOf<String, MutableList<String>>()
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        val dir: File = Files.createTempDirectory("confirma-kt-scenario").toFile()
        lateinit var client: OnboardingClient

        fun secrets() = listOf(sandbox.provisioningToken) + saved.filterKeys { it.endsWith(".accessToken") }.values

        fun resolve(v: Any?): Any? = when (v) {
            is String -> when {
                !v.startsWith("$") -> v
                v == "\$provisioningToken" -> sandbox.provisioningToken
                v == "\$partnerCode" -> sandbox.partnerCode
                else -> saved[v.removePrefix("$")] ?: fail("$name: refers to unsaved $v")
            }
            is JSONObject -> JSONObject().also { o -> v.keySet().forEach { k -> o.put(k, resolve(v.get(k))) } }
            is JSONArray -> JSONArray().also { a -> v.forEach { a.put(resolve(it)) } }
            else -> v
        }

        fun str(step: JSONObject, field: String): String = resolve(step.get(field)) as String

        fun manager(step: JSONObject): TokenManager {
            val n = step.optString("manager", "a")
            return managers[n] ?: fail("$name: no manager $n")
        }

        fun run() = runBlocking {
            sandbox.reset()
            scenario.optJSONObject("sandboxConfig")?.let { sandbox.config(it.toString()) }
            client = OnboardingClient(clientConfig(scenario.optJSONObject("client") ?: JSONObject()))
            try {
                buildManagers()
                val steps = scenario.getJSONArray("steps")
                for (i in 0 until steps.length()) {
                    val step = steps.getJSONObject(i)
                    step(step, "$name step ${i + 1} (${step.getString("op")})")
                }
            } finally {
                managers.values.forEach { it.close() }
                stores.forEach { it.close() }
                scope.cancel()
                client.close()
                dir.deleteRecursively()
            }
        }

        /** `store`: one memory store shared by all managers, or one SQLite file each manager opens itself. */
        fun buildManagers() {
            val kind = scenario.optString("store").takeIf { it.isNotEmpty() } ?: return
            val names = scenario.optJSONArray("managers")?.map { it as String } ?: listOf("a")
            val key = newStoreKey()
            val shared = if (kind == "memory") CredentialStore.memory(key).also { stores += it } else null
            for (n in names) {
                val store = when (kind) {
                    "memory" -> shared!!
                    "sqlite" -> CredentialStore.sqlite(File(dir, "credentials.db").path, key).also { stores += it }
                    else -> fail("$name: unknown store $kind")
                }
                val m = TokenManager(client, store, TokenManagerOptions(owner = n))
                val kinds = Collections.synchronizedList(mutableListOf<String>())
                // UNDISPATCHED: subscribed before the next line runs, so no event of the scenario is missed.
                scope.launch(start = CoroutineStart.UNDISPATCHED) { m.events.collect { kinds += it.kind.id } }
                seen[n] = kinds
                managers[n] = m
            }
        }

        /** A lifecycle call (null: not one). */
        suspend fun call(op: String, step: JSONObject): Result<Outcome>? = when (op) {
            "createClient" -> runCatching {
                val form = NewClient.fromJson(resolve(step.get("newClient")).toString(), client.config.validation)
                val token = str(step, "token")
                // With a manager: the manager's own create (as the Rust reference runner), so that the create's events
                // are that manager's and its cache holds the new token. (`client.createClient(token, form, store =
                // store)` commits the same way through a one-off manager: LifecycleTest, PartnerStoreTest.)
                val c = if (step.has("manager")) manager(step).createClient(token, form) else client.createClient(token, form)
                Outcome(c.accessToken.reveal(), mapOf("hasExpiry" to (c.tokenExpiresAt != null), "clientId" to c.clientId, "customerCode" to c.customerCode))
            }
            "token" -> runCatching { Outcome(manager(step).token(str(step, "clientId")).reveal(), emptyMap()) }
            "renewNow" -> runCatching { Outcome(null, status(manager(step).renewNow(str(step, "clientId")))) }
            "status" -> runCatching { Outcome(null, status(manager(step).status(str(step, "clientId")))) }
            "reconcile" -> runCatching {
                val v = manager(step).reconcile()
                Outcome(null, mapOf("count" to v.size, "states" to JSONArray(v.map { it.state.id })))
            }
            "importCredentials" -> runCatching {
                Outcome(null, status(manager(step).importCredentials(str(step, "clientId"), str(step, "token"))))
            }
            "validateToken" -> runCatching {
                val s = client.validateToken(str(step, "token"))
                Outcome(null, mapOf("isValid" to s.isValid, "expired" to s.expired, "message" to s.message))
            }
            "renewToken" -> runCatching {
                val r = client.renewToken(str(step, "token"))
                Outcome(r.accessToken.reveal(), mapOf("hasExpiry" to (r.expiresAt != null)))
            }
            else -> null
        }

        fun status(s: CredentialStatus): Map<String, Any?> = mapOf(
            "state" to s.state.id, "health" to s.health.id, "tokenVersion" to s.tokenVersion,
            "consecutiveFailures" to s.consecutiveFailures, "lastError" to s.lastError, "encrypted" to s.encrypted,
            "hasExpiry" to (s.expiresAt != null),
        )

        suspend fun step(step: JSONObject, where: String) {
            val op = step.getString("op")
            call(op, step)?.let { return check(where, step, it) }
            when (op) {
                "parallel" -> {
                    val subs = step.getJSONArray("steps").map { it as JSONObject }
                    val outcomes = subs.map { s ->
                        scope.async { call(s.getString("op"), s) ?: fail("$where: only lifecycle calls run in parallel") }
                    }.awaitAll()
                    subs.zip(outcomes).forEachIndexed { i, (s, o) -> check("$where [${i + 1}] ${s.getString("op")}", s, o) }
                }
                "expectRequests" -> {
                    val byPath = sandbox.state().getJSONObject("requestsByPath")
                    assertEquals(step.getInt("count"), byPath.optInt(step.getString("path"), 0), "$where: requests to ${step.getString("path")}")
                }
                "expectSame" -> {
                    val same = str(step, "a") == str(step, "b")
                    assertEquals(step.getBoolean("same"), same, "$where: the two tokens are ${if (same) "the same" else "different"}")
                }
                "expectEvents" -> {
                    val n = step.optString("manager", "a")
                    val got = seen[n] ?: fail("$where: no manager $n")
                    val includes = step.optJSONArray("includes")?.map { it as String }.orEmpty()
                    val excludes = step.optJSONArray("excludes")?.map { it as String }.orEmpty()
                    val deadline = System.nanoTime() + 10_000_000_000L
                    while (true) {
                        val now = synchronized(got) { got.toList() }
                        excludes.firstOrNull { it in now }?.let { fail<Unit>("$where: event $it published: $now") }
                        if (now.containsAll(includes)) break
                        if (System.nanoTime() > deadline) fail<Unit>("$where: events $now, expected to include $includes")
                        delay(10.milliseconds)
                    }
                }
                "fault" -> sandbox.fault(step.get("fault").toString())
                "clearFaults" -> sandbox.clearFaults()
                "advanceClock" -> sandbox.advanceClock(step.getLong("seconds"))
                "sleep" -> delay(step.getLong("ms"))
                "expectState" -> {
                    val state = sandbox.state()
                    val want = step.getJSONObject("state")
                    for (k in want.keySet()) assertTrue(jsonEquals(want.get(k), state.opt(k)), "$where: state.$k = ${state.opt(k)}, expected ${want.get(k)}")
                }
                else -> fail<Unit>("$where: unknown op")
            }
        }

        fun check(where: String, step: JSONObject, outcome: Result<Outcome>) {
            val expect = step.getJSONObject("expect")
            val error = outcome.exceptionOrNull()
            if (error != null) {
                if (error !is ConfirmaException) throw AssertionError("$where: not a ConfirmaException", error)
                assertNoLeak(error, where, *secrets().toTypedArray())
            }
            val want = expect.optJSONObject("error")
            if (want == null) {
                if (error != null) throw AssertionError("$where: expected success, got ${error::class.simpleName}: ${error.message}", error)
                val o = outcome.getOrThrow()
                expect.optJSONObject("result")?.let { r ->
                    for (k in r.keySet()) assertTrue(jsonEquals(r.get(k), o.result[k]), "$where: result.$k = ${o.result[k]}, expected ${r.get(k)}")
                }
                step.optString("save").takeIf { it.isNotEmpty() }?.let { s ->
                    o.token?.let { saved["$s.accessToken"] = it }
                    (o.result["clientId"] as? String)?.let { saved["$s.clientId"] = it }
                }
                return
            }
            if (error == null) fail<Unit>("$where: expected ${want.getString("kind")} error, got success ${outcome.getOrNull()?.result}")
            val ex = error as ConfirmaException
            val ctx = "$where: ${ex::class.simpleName}: ${ex.message}"
            assertEquals(want.getString("kind"), ex.kind.id, ctx)
            assertEquals("CONFIRMA_" + want.getString("kind").uppercase(), ex.code, ctx)
            if (want.has("retryable")) assertEquals(want.getBoolean("retryable"), ex.retryable, ctx)
            if (want.has("status")) assertEquals(if (want.isNull("status")) null else want.getInt("status"), ex.status, ctx)
        }

        fun clientConfig(o: JSONObject): ClientConfig {
            var c = ClientConfig(baseUrl = sandbox.baseUrl)
            if (o.has("validation")) c = c.copy(validation = ValidationMode.valueOf(o.getString("validation").uppercase()))
            if (o.has("maxRetries")) c = c.copy(maxRetries = o.getInt("maxRetries"))
            if (o.has("timeoutMs")) c = c.copy(timeout = o.getLong("timeoutMs").milliseconds)
            if (o.has("connectTimeoutMs")) c = c.copy(connectTimeout = o.getLong("connectTimeoutMs").milliseconds)
            if (o.has("totalTimeoutMs")) c = c.copy(totalTimeout = o.getLong("totalTimeoutMs").milliseconds)
            return c
        }
    }

    private fun jsonEquals(want: Any?, got: Any?): Boolean = when {
        want == JSONObject.NULL -> got == null || got == JSONObject.NULL
        want is Number && got is Number -> want.toDouble() == got.toDouble()
        want is JSONObject && got is JSONObject -> want.similar(got)
        want is JSONArray && got is JSONArray -> want.similar(got)
        else -> want == got
    }
}
