package com.confirmafinance.sdk

import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.io.ObjectInputStream
import java.io.ObjectOutputStream
import java.security.SecureRandom
import java.time.Instant
import java.util.IdentityHashMap
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration
import kotlin.time.Duration.Companion.days
import kotlin.time.Duration.Companion.hours
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.nanoseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.coroutines.cancellation.CancellationException
import kotlin.time.TimeSource
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertTimeoutPreemptively
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.function.ThrowingSupplier
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * Issue 9 at the Kotlin edge: caller input and server answers never make the binding panic, hang or leak, and a
 * token the server returned is never dropped. Real sandbox over loopback, through the public API.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HardeningTest {
    private lateinit var sandbox: Sandbox
    private lateinit var client: OnboardingClient
    private val seed = AtomicInteger(9_000)

    @BeforeAll
    fun start() {
        sandbox = Sandbox.start()
        client = OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, maxRetries = 0))
    }

    @AfterAll
    fun stop() {
        client.close()
        sandbox.close()
    }

    @BeforeEach
    fun reset() { sandbox.reset() }

    private fun newClient() = sampleClient(sandbox.partnerCode, seed.incrementAndGet())

    @Test
    fun `a multi-byte VAT number is a validation error, never a panic or a hang`() {
        val form = newClient().let { it.copy(client = it.client.copy(countryCode = "FI", vatRegNbr = "€1234567")) }
        val e = assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), ThrowingSupplier {
            runBlocking { withTimeout(20.seconds) { assertFailsWith<ConfirmaException.Validation> { client.createClient(sandbox.provisioningToken, form) } } }
        })
        assertEquals(ValidationSource.CLIENT, e.source)
        assertTrue("client.vatRegNbr" in e.fieldErrors, e.fieldErrors.toString())
        assertEquals(0, sandbox.state().getInt("requestsServed"), "nothing was sent")

        // The synchronous path (JSON → data classes) and the loosely typed async path.
        val json = """{"service":{"type":"LIFECYCLE","partnerCode":"${sandbox.partnerCode}"},"client":{"name":"A Oy",
            "businessCode":"${businessId(11)}","vatRegNbr":"€1234567","postalAddress":"Katu 1","postalCode":"00100",
            "postalDistrict":"HELSINKI","countryCode":"FI","email":"a@b.fi","languageCode":"FI"},
            "contacts":[{"role":"PRIMARY","name":"A","email":"a@b.fi"}]}"""
        val sync = assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), ThrowingSupplier {
            assertFailsWith<ConfirmaException.Validation> { NewClient.fromJson(json, ValidationMode.STRICT) }
        })
        assertTrue("client.vatRegNbr" in sync.fieldErrors, sync.fieldErrors.toString())
        val loose = assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), ThrowingSupplier {
            runBlocking { withTimeout(20.seconds) { assertFailsWith<ConfirmaException.Validation> { client.createClientFromJson(sandbox.provisioningToken, json) } } }
        })
        assertTrue("client.vatRegNbr" in loose.fieldErrors, loose.fieldErrors.toString())
    }

    @Test
    fun `absurd durations are configuration errors naming the option, never an overflow`() {
        val absurd = listOf(Duration.ZERO, (-1).milliseconds, Duration.INFINITE, -Duration.INFINITE, 25.hours, 100_000.days, Long.MAX_VALUE.nanoseconds)
        for (d in absurd) {
            for ((name, cfg) in listOf(
                "timeout" to ClientConfig(baseUrl = sandbox.baseUrl, timeout = d),
                "connectTimeout" to ClientConfig(baseUrl = sandbox.baseUrl, connectTimeout = d),
                "totalTimeout" to ClientConfig(baseUrl = sandbox.baseUrl, totalTimeout = d),
            )) {
                val e = assertFailsWith<ConfirmaException.Configuration>("$name = $d") { OnboardingClient(cfg).close() }
                assertTrue(e.message!!.contains(name), "$name = $d: ${e.message}")
                assertEquals("CONFIRMA_CONFIGURATION", e.code)
            }
        }
        // Java callers: java.time.Duration extremes.
        for (d in listOf(java.time.Duration.ofSeconds(Long.MAX_VALUE, 999_999_999), java.time.Duration.ofMillis(-1), java.time.Duration.ZERO)) {
            assertFailsWith<ConfirmaException.Configuration>("$d") {
                OnboardingClient(ClientConfig.builder().baseUrl(sandbox.baseUrl).totalTimeout(d).build()).close()
            }
        }
        // The bounds themselves are fine, and such a client works.
        OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, timeout = 24.hours, connectTimeout = 5.seconds, totalTimeout = 24.hours)).use {
            runBlocking { assertFalse(it.validateToken("unknown-token-123456").isValid) }
        }
    }

    @Test
    fun `the String-token hot paths carry answers, long messages and errors like the object overloads`() = runBlocking<Unit> {
        val created = client.createClient(sandbox.provisioningToken, newClient())
        val raw = created.accessToken.reveal()
        assertTrue(client.validateToken(raw).isValid)
        assertTrue(client.validateTokenBlocking(raw).isValid)
        assertFalse(client.validateTokenBlocking("unknown-token").isValid)
        val long = "m".repeat(1000) // longer than the blocking hot path's message buffer: the parked-result path
        for (blocking in listOf(false, true)) {
            sandbox.fault(fault("/api/v1/partner/validate", 200, """{"isValid":true,"message":"$long"}"""))
            val s = if (blocking) client.validateTokenBlocking(raw) else client.validateToken(raw)
            assertEquals(long, s.message, "blocking=$blocking")
            sandbox.fault(fault("/api/v1/partner/validate", 400, """{"message":"bad request"}"""))
            val e = runCatching { if (blocking) client.validateTokenBlocking(raw) else client.validateToken(raw) }.exceptionOrNull()
            assertIs<ConfirmaException>(e, "blocking=$blocking")
            assertNoLeak(e, "hot path error", raw)
        }
        assertFailsWith<ConfirmaException.Validation> { client.validateTokenBlocking("bad\uD800") }
        assertFailsWith<ConfirmaException.Validation> { client.validateToken("bad\uD800") }
    }

    @Test
    fun `every createClient overload goes through the queue with the same results and errors`() = runBlocking<Unit> {
        val json = { code: String -> """{"service":{"type":"LIFECYCLE","partnerCode":"${sandbox.partnerCode}"},"client":{"name":"Oy","businessCode":"$code","vatRegNbr":"${vatOf(code)}","postalAddress":"Katu 1","postalCode":"00100","postalDistrict":"HELSINKI","countryCode":"FI","email":"a@b.fi","languageCode":"FI"},"contacts":[{"role":"PRIMARY","name":"M","email":"m@b.fi"},{"role":"TECHNICAL","name":"T","email":"t@b.fi"}]}""" }
        SecretToken(sandbox.provisioningToken).use { pt ->
            val forms = listOf(newClient(), newClient())
            val a = client.createClient(sandbox.provisioningToken, forms[0])
            val b = client.createClient(pt, forms[1])
            val c = client.createClientFromJson(sandbox.provisioningToken, json(newClient().client.businessCode))
            val d = client.createClientFromJson(pt, json(newClient().client.businessCode))
            for (x in listOf(a, b, c, d)) assertTrue(client.validateToken(x.accessToken).isValid, "$x")
            assertEquals(4, listOf(a, b, c, d).map { it.clientId }.toSet().size)
            // The same errors as the uniffi exports gave: a repeat is Conflict; bad JSON and bad forms are Validation.
            assertFailsWith<ConfirmaException.Conflict> { client.createClient(sandbox.provisioningToken, forms[0]) }
            assertFailsWith<ConfirmaException.Conflict> { client.createClient(pt, forms[1]) }
            for (call in listOf<suspend () -> CreatedClient>(
                { client.createClientFromJson(sandbox.provisioningToken, "{not json") },
                { client.createClientFromJson(pt, "{not json") },
                { client.createClientFromJson(pt, "{\"x\":\"bad\uD800\"}") },
            )) {
                val e = assertFailsWith<ConfirmaException.Validation> { call() }
                assertTrue(e.fieldErrors.containsKey("newClient"), "${e.fieldErrors}")
            }
            val bad = forms[0].copy(client = forms[0].client.copy(businessCode = "1234567-8", email = "nope"))
            for (call in listOf<suspend () -> CreatedClient>({ client.createClient(sandbox.provisioningToken, bad) }, { client.createClient(pt, bad) })) {
                val e = assertFailsWith<ConfirmaException.Validation> { call() }
                assertEquals(ValidationSource.CLIENT, e.source)
                assertTrue(e.fieldErrors.keys.containsAll(listOf("client.businessCode", "client.email")), "${e.fieldErrors}")
                assertTrue(e.issues.isNotEmpty())
            }
            assertFailsWith<ConfirmaException.Validation> { client.createClient("bad\uD800", forms[0]) }
            assertFailsWith<ConfirmaException.Authentication> { client.createClient("not-the-provisioning-token", newClient()) }
        }
    }

    @Test
    fun `the String-token hot paths zero their copy of the token after the native call`() {
        // Key 0 is no registered client: each call fails natively (its error queued or parked), after the copy.
        val copies = List(4) { tokenUtf8("secret-${"t".repeat(40)}") }
        assertFailsWith<ConfirmaException> { HotPath.validateBlocking(0, copies[0]) }
        HotPath.start(0, HotPath.VALIDATE, copies[1], Completions.nextId())
        HotPath.create(0, copies[2], newClient(), Completions.nextId())
        HotPath.createJson(0, copies[3], "{}".toByteArray(), Completions.nextId())
        for (c in copies) assertTrue(c.all { it == 0.toByte() }, "zeroed")
    }

    @Test
    fun `response bodies are capped, and the cap itself is checked`() = runBlocking {
        for (n in listOf(0, 10, 1023, 64 * 1024 * 1024 + 1, -1)) {
            assertFailsWith<ConfirmaException.Configuration>("maxResponseBytes = $n") { OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, maxResponseBytes = n)).close() }
        }
        OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, maxRetries = 0, maxResponseBytes = 1024)).use { small ->
            val created = client.createClient(sandbox.provisioningToken, newClient())
            val big = """{"isValid":true,"message":"${"x".repeat(5000)}"}"""
            sandbox.fault(fault("/api/v1/partner/validate", 200, big))
            val e = assertFailsWith<ConfirmaException.UnexpectedResponse> { small.validateToken(created.accessToken) }
            assertNoLeak(e, "oversized validate answer", created.accessToken.reveal())
            sandbox.fault(fault("/api/v1/partner/renew", 200, """{"accessToken":"${canaryToken()}","pad":"${"y".repeat(5000)}"}"""))
            val r = assertFailsWith<ConfirmaException.OutcomeUnknown> { small.renewToken(created.accessToken) }
            assertEquals(Operation.RENEW_TOKEN, r.operation)
            assertNoLeak(r, "oversized renew answer", created.accessToken.reveal())
            assertTrue(small.validateToken(created.accessToken).isValid, "a normal answer fits")
        }
    }

    @Test
    fun `a panic in native code is the typed internal error, sync and async, and the runtime survives`() {
        val sync = assertFailsWith<ConfirmaException.Internal> { translate { nativePanicProbe() } }
        val async = assertFailsWith<ConfirmaException.Internal> { runBlocking { withTimeout(20.seconds) { translate { nativePanicProbeAsync() } } } }
        for (e in listOf(sync, async)) {
            assertEquals(ErrorKind.INTERNAL, e.kind)
            assertEquals("internal", e.kind.id)
            assertEquals("CONFIRMA_INTERNAL", e.code)
            assertFalse(e.retryable)
            assertTrue(e.message!!.contains("a panic was contained"), e.message)
            assertTrue(e.message!!.contains("panic probe"), e.message)
        }
        // The process and the shared runtime are fine afterwards.
        runBlocking {
            val created = client.createClient(sandbox.provisioningToken, newClient())
            assertTrue(client.validateToken(created.accessToken).isValid)
        }
        assertEquals(0L, settledNativeCalls())
    }

    @Test
    fun `a string that is not valid Unicode is a validation error, not an encoder exception`() = runBlocking {
        val lone = "abc\uD800def"
        val t = assertFailsWith<ConfirmaException.Validation> { client.validateToken(lone) }
        assertEquals(setOf("token"), t.fieldErrors.keys)
        val direct = assertFailsWith<ConfirmaException.Validation> { SecretToken(lone) }
        assertEquals(setOf("token"), direct.fieldErrors.keys)
        assertEquals("ab€c\uD83D\uDE00", SecretToken("ab€c\uD83D\uDE00").reveal(), "valid non-ASCII text round-trips")
        val form = newClient().let { it.copy(client = it.client.copy(name = lone)) }
        val n = assertFailsWith<ConfirmaException.Validation> { client.createClient(sandbox.provisioningToken, form) }
        assertEquals(setOf("newClient"), n.fieldErrors.keys)
        assertEquals(0, sandbox.state().getInt("requestsServed"))
    }

    @Test
    fun `a partial-success create throws OutcomeUnknown carrying the new token, which works`() = runBlocking {
        val accepted = runCatching { sandbox.fault("""{"path":"/api/v1/partner/client","kind":"partial_success"}""") }
        assumeTrue(accepted.isSuccess, "the sandbox does not know the fault kind partial_success yet (branch wt/sandbox not merged): ${accepted.exceptionOrNull()?.message}")
        val e = assertFailsWith<ConfirmaException.OutcomeUnknown> { client.createClient(sandbox.provisioningToken, newClient()) }
        assertEquals(Operation.CREATE_CLIENT, e.operation)
        assertIs<ConfirmaException.UnexpectedResponse>(e.cause)
        assertEquals(201, e.cause.status)
        val recovered = assertNotNull(e.recoveredToken, "the new client's token is handed over")
        assertEquals("[REDACTED]", recovered.toString())
        assertNoLeak(e, "partial success")
        assertEquals(1, sandbox.state().getInt("clients"), "the client was really created")
        assertTrue(client.validateToken(recovered).isValid, "the recovered token is the client's")

        // Renew answered in an unexpected shape: the answer is kept whole, as a secret.
        sandbox.fault("""{"path":"/api/v1/partner/renew","kind":"partial_success"}""")
        val r = assertFailsWith<ConfirmaException.OutcomeUnknown> { client.renewToken(recovered) }
        assertEquals(Operation.RENEW_TOKEN, r.operation)
        val raw = assertNotNull(r.rawResponse, "the raw answer is kept")
        assertNoLeak(r, "renew partial success")
        val newToken = assertNotNull(TOKEN_SHAPE.find(raw.reveal()), "the raw answer holds the new token").value
        assertTrue(client.validateToken(newToken).isValid)
        assertFalse(client.validateToken(recovered).isValid, "the renew really rotated")
    }

    @Test
    fun `a 2xx create or renew answer holding an unexpected token never leaks and is never dropped`() = runBlocking {
        val canary = canaryToken()
        // A create answered 201 with a token but no clientId/customerCode (served verbatim by the sandbox).
        sandbox.fault(fault("/api/v1/partner/client", 201, """{"accessToken":"$canary"}"""))
        val e = assertFailsWith<ConfirmaException.OutcomeUnknown> { client.createClient(sandbox.provisioningToken, newClient()) }
        assertEquals(Operation.CREATE_CLIENT, e.operation)
        assertEquals(canary, e.recoveredToken?.reveal())
        assertNoLeak(e, "create 201 without clientId")

        // A renew answered 200 with the token in an unexpected field.
        val created = client.createClient(sandbox.provisioningToken, newClient())
        val canary2 = canaryToken()
        sandbox.fault(fault("/api/v1/partner/renew", 200, """{"result":{"newKey":"$canary2"}}"""))
        val r = assertFailsWith<ConfirmaException.OutcomeUnknown> { client.renewToken(created.accessToken) }
        assertEquals(Operation.RENEW_TOKEN, r.operation)
        assertNull(r.recoveredToken)
        assertTrue(assertNotNull(r.rawResponse).reveal().contains(canary2))
        assertNoLeak(r, "renew with the token in an unexpected field", created.accessToken.reveal())
    }

    @Test
    fun `token-shaped text in error bodies is redacted from every part of the error`() = runBlocking {
        val created = client.createClient(sandbox.provisioningToken, newClient())
        val bodies = listOf(
            400 to """{"message":"${canaryToken()}"}""",
            500 to """{"accessToken":"${canaryToken()}","error":"boom"}""",
            401 to """{"title":"Unauthorized","detail":"token ${canaryToken()} is unknown"}""",
            503 to "upstream said ${canaryToken()}",
        )
        for ((status, body) in bodies) {
            sandbox.fault(fault("/api/v1/partner/validate", status, body))
            // validate: an error, or (401) a TokenStatus whose message is the service's text — redacted too.
            runCatching { client.validateToken(created.accessToken) }.fold(
                { r -> assertNull(TOKEN_SHAPE.find(r.toString()), "validate $status: a token-shaped string in $r") },
                { e -> assertNoLeak(e, "validate $status $body", created.accessToken.reveal()) },
            )
            sandbox.fault(fault("/api/v1/partner/renew", status, body))
            val r = assertFailsWith<ConfirmaException> { client.renewToken(created.accessToken) }
            assertNoLeak(r, "renew $status $body", created.accessToken.reveal())
        }
    }

    @Test
    fun `server timestamps out of range are clamped, a success never turns into an exception`() = runBlocking {
        for ((sent, expected) in listOf("1900-01-01T00:00:00Z" to Instant.EPOCH, "0001-01-01T00:00:00Z" to Instant.EPOCH)) {
            val body = """{"clientId":"c-${seed.incrementAndGet()}","customerCode":"K1","paymentReferencePrefix":"77","accessToken":"${canaryToken()}","tokenExpiresAt":"$sent"}"""
            sandbox.fault(fault("/api/v1/partner/client", 201, body))
            val created = client.createClient(sandbox.provisioningToken, newClient())
            assertEquals(expected, created.tokenExpiresAt, sent)
        }
    }

    @Test
    fun `cancelling a create or renew in flight says the outcome is unknown`() = runBlocking {
        val created = client.createClient(sandbox.provisioningToken, newClient())
        for ((op, path) in listOf(Operation.RENEW_TOKEN to "/api/v1/partner/renew", Operation.CREATE_CLIENT to "/api/v1/partner/client")) {
            sandbox.fault("""{"kind":"delay","ms":8000,"path":"$path","times":1}""")
            val served = sandbox.state().getInt("requestsServed")
            var seen: Throwable? = null
            val job = launch(Dispatchers.Default) {
                try {
                    if (op == Operation.CREATE_CLIENT) client.createClient(sandbox.provisioningToken, newClient()) else client.renewToken(created.accessToken)
                } catch (e: CancellationException) {
                    seen = e
                    throw e
                }
            }
            // Synchronise on the sandbox: the request has arrived (it counts requests as they begin).
            val arrived = TimeSource.Monotonic.markNow()
            while (sandbox.state().getInt("requestsServed") == served && arrived.elapsedNow() < 20.seconds) delay(10)
            assertEquals(served + 1, sandbox.state().getInt("requestsServed"), "$op reached the sandbox")
            val cancelled = TimeSource.Monotonic.markNow()
            job.cancelAndJoin()
            val e = assertIs<CancelledInFlightException>(seen, "$op")
            assertEquals(op, e.operation)
            assertTrue(e.outcomeUnknown)
            assertTrue(e.message!!.contains("outcome is unknown"), e.message)
            while (OnboardingClient.activeNativeCalls() != 0L && cancelled.elapsedNow() < 6.seconds) delay(5)
            assertEquals(0L, OnboardingClient.activeNativeCalls(), "the native task was aborted (long before the 8 s delay)")
        }
        // The sandbox finishes both operations anyway: the cancelled create DID create a client — which is why the
        // cancellation says "outcome unknown". (Waiting for it also keeps these late effects out of other tests.)
        val t = TimeSource.Monotonic.markNow()
        while (sandbox.state().getInt("clients") < 2 && t.elapsedNow() < 30.seconds) delay(50)
        assertEquals(2, sandbox.state().getInt("clients"), "the cancelled create took effect")
        // withTimeout keeps its own exception (withTimeoutOrNull keeps working); validate has no side effect.
        sandbox.fault("""{"kind":"delay","ms":3000,"path":"/api/v1/partner/validate","times":1}""")
        assertNull(withTimeoutOrNull(300.milliseconds) { client.validateToken(created.accessToken) })
    }

    @Test
    fun `the leak check itself finds a token-shaped string in any property`() {
        val canary = canaryToken()
        val base = NativeErrorInfo(
            kind = ErrorKind.UNEXPECTED_RESPONSE, kindName = "unexpected_response", code = "CONFIRMA_UNEXPECTED_RESPONSE",
            display = "unexpected response", detail = "unexpected response", status = 500u, requestId = null, retryable = false,
            retryAfterMs = null, fieldErrors = emptyMap(), validationSource = null, operation = null, bodyExcerpt = null,
        )
        assertNoLeak(ConfirmaException.of(base), "clean")
        for (leaky in listOf(base.copy(bodyExcerpt = "x $canary y"), base.copy(requestId = canary), base.copy(display = canary))) {
            assertFailsWith<AssertionError> { assertNoLeak(ConfirmaException.of(leaky), "planted") }
        }
        val inCause = ConfirmaException.of(base.copy(kind = ErrorKind.OUTCOME_UNKNOWN, operation = "create_client"), base.copy(bodyExcerpt = canary))
        assertFailsWith<AssertionError> { assertNoLeak(inCause, "planted in the cause") }
    }

    // ---- helpers ----

    private fun fault(path: String, status: Int, body: String) =
        JSONObject(mapOf("path" to path, "kind" to "status", "status" to status, "body" to body, "times" to 1)).toString()

    private val random = SecureRandom()

    /** A token shaped like the sandbox's (`cfis_at_` + 40 alphanumerics) that no one but this test knows. */
    private fun canaryToken(): String {
        val alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "cfis_at_" + (1..40).map { alphabet[random.nextInt(alphabet.length)] }.joinToString("")
    }
}

/** Sandbox access tokens: `cfis_at_` + 40 alphanumerics. */
val TOKEN_SHAPE = Regex("cfis_at_[A-Za-z0-9]{40}")

/**
 * Fails if ANY token-shaped string (or one of [secrets]) appears anywhere in [error]: every property (getters, by
 * reflection, and the fields of our own classes), the cause chain, toString(), message, the stack trace text and
 * the Java serialisation of the exception (which must succeed, and must drop the secret-holding properties).
 */
fun assertNoLeak(error: Throwable, where: String, vararg secrets: String) {
    val texts = mutableListOf<Pair<String, String>>()
    val seen = IdentityHashMap<Throwable, Boolean>()
    var t: Throwable? = error
    var depth = 0
    while (t != null && seen.put(t, true) == null) {
        val at = "cause[$depth] ${t.javaClass.simpleName}"
        texts += "$at.toString()" to t.toString()
        texts += "$at.message" to t.message.orEmpty()
        texts += "$at.localizedMessage" to t.localizedMessage.orEmpty()
        texts += "$at.stackTrace" to t.stackTraceToString()
        for (m in t.javaClass.methods) {
            if (m.parameterCount != 0 || m.name == "getClass" || m.name == "fillInStackTrace") continue
            if (!(m.name.startsWith("get") || m.name.startsWith("is"))) continue
            val v = runCatching { m.invoke(t) }.getOrElse { fail("$where: $at.${m.name}() threw $it") }
            texts += "$at.${m.name}()" to render(v)
        }
        var c: Class<*>? = t.javaClass
        while (c != null && c.name.startsWith("com.confirmafinance.")) {
            for (f in c.declaredFields) {
                f.isAccessible = true
                texts += "$at.field ${c.simpleName}.${f.name}" to render(f.get(t))
            }
            c = c.superclass
        }
        t = t.cause
        depth++
    }
    val bytes = ByteArrayOutputStream().also { out -> ObjectOutputStream(out).use { it.writeObject(error) } }.toByteArray()
    texts += "java serialisation" to String(bytes, Charsets.ISO_8859_1)
    for ((what, text) in texts) {
        TOKEN_SHAPE.find(text)?.let { fail("$where: a token-shaped string leaked into $what: ${text.take(300)}") }
        for (s in secrets) assertFalse(text.contains(s), "$where: a known token leaked into $what")
    }
    val back = ObjectInputStream(ByteArrayInputStream(bytes)).use { it.readObject() }
    if (back is ConfirmaException) {
        assertNull(back.recoveredToken, "$where: recoveredToken is not serialised")
        assertNull(back.rawResponse, "$where: rawResponse is not serialised")
        assertEquals(error.message, back.message)
    }
}

private fun render(v: Any?): String = when (v) {
    null -> "null"
    is Array<*> -> v.joinToString(",") { render(it) }
    is Iterable<*> -> v.joinToString(",") { render(it) }
    is Map<*, *> -> v.entries.joinToString(",") { "${render(it.key)}=${render(it.value)}" }
    else -> v.toString()
}

/**
 * [OnboardingClient.activeNativeCalls] once it settles (at most 2 s): a call through the completion queue delivers its
 * result from inside its native task, so the task can still be counted for a moment after the caller has resumed.
 */
fun settledNativeCalls(): Long {
    val deadline = System.nanoTime() + 2_000_000_000L
    while (OnboardingClient.activeNativeCalls() != 0L && System.nanoTime() < deadline) Thread.sleep(5)
    return OnboardingClient.activeNativeCalls()
}
