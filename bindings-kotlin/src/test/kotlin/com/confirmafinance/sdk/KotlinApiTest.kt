package com.confirmafinance.sdk

import java.net.ServerSocket
import java.util.concurrent.CancellationException
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KotlinApiTest {
    private lateinit var sandbox: Sandbox
    private lateinit var client: OnboardingClient
    private val seed = AtomicInteger(100)

    @BeforeAll
    fun start() {
        sandbox = Sandbox.start()
        client = OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl))
    }

    @AfterAll
    fun stop() {
        client.close()
        sandbox.close()
    }

    @BeforeEach
    fun reset() { sandbox.reset() }

    private fun newClient() = sampleClient(sandbox.partnerCode, seed.incrementAndGet())

    private fun assertNoSecret(text: String, vararg secrets: String) {
        for (s in secrets) assertFalse(text.contains(s), "a token leaked into: $text")
    }

    @Test
    fun `data classes drive the automated flow and never print tokens`() = runBlocking {
        val created = client.createClient(sandbox.provisioningToken, newClient())
        val raw = created.accessToken.reveal()
        assertTrue(raw.isNotEmpty())
        assertNotNull(created.tokenExpiresAt)
        assertEquals("[REDACTED]", created.accessToken.toString())
        assertTrue(created.toString().contains("accessToken=[REDACTED]"), created.toString())
        assertNoSecret(created.toString(), raw)

        val status = client.validateToken(created.accessToken)
        assertEquals(TokenStatus(isValid = true, expired = false, message = "Token is valid"), status)

        val renewed = client.renewToken(raw)
        val newRaw = renewed.accessToken.reveal()
        assertNotEquals(raw, newRaw)
        assertNoSecret(renewed.toString(), raw, newRaw)
        assertFalse(client.validateToken(raw).isValid)
        assertTrue(client.validateToken(renewed.accessToken).isValid)
        assertEquals(1, sandbox.state().getInt("clients"))
    }

    @Test
    fun `SecretToken is redacted, equal by value and revealed only explicitly`() {
        val a = SecretToken("canary-secret-0123456789")
        val b = SecretToken("canary-secret-0123456789")
        assertEquals("[REDACTED]", a.toString())
        assertEquals("[REDACTED]", "$a")
        assertEquals(a, b)
        assertEquals(a.hashCode(), b.hashCode())
        assertNotEquals(a, SecretToken("other"))
        assertEquals("canary-secret-0123456789", a.reveal())
        val renewed = RenewedToken(accessToken = a, expiresAt = null)
        assertNoSecret(renewed.toString(), a.reveal())
        val cfg = ClientConfig(proxy = "http://user:canary-proxy-pass@127.0.0.1:3128")
        assertNoSecret(cfg.toString(), "canary-proxy-pass")
    }

    @Test
    fun `hundreds of concurrent coroutines share one client`() = runBlocking {
        val created = client.createClient(sandbox.provisioningToken, newClient())
        val results = (1..400).map { async(Dispatchers.Default) { client.validateToken(created.accessToken) } }.awaitAll()
        assertTrue(results.all { it.isValid })
        val creates = (1..60).map { async(Dispatchers.IO) { client.createClient(sandbox.provisioningToken, newClient()) } }.awaitAll()
        assertEquals(60, creates.map { it.clientId }.toSet().size)
        assertEquals(61, sandbox.state().getInt("clients"))
        assertEquals(0L, settledNativeCalls())
    }

    @Test
    fun `the native worker threads join the JVM once, as daemons, not once per call`() = runBlocking {
        val threads = java.lang.management.ManagementFactory.getThreadMXBean()
        client.createClient(sandbox.provisioningToken, newClient()) // warm: the workers exist and have been attached
        val started = threads.totalStartedThreadCount
        // createClient resumes through uniffi's continuation callback on a native worker (a JNA upcall); validate and
        // renew through the completion queue's one drainer thread.
        val created = (1..40).map { async(Dispatchers.Default) { client.createClient(sandbox.provisioningToken, newClient()) } }.awaitAll()
        val renewed = created.map { async(Dispatchers.Default) { client.renewToken(it.accessToken.reveal()) } }.awaitAll()
        assertTrue(renewed.map { async(Dispatchers.Default) { client.validateToken(it.accessToken) } }.awaitAll().all { it.isValid })
        val more = threads.totalStartedThreadCount - started
        assertTrue(more < 20, "$more JVM threads started for 120 calls: the workers are attached per call")
        val workers = Thread.getAllStackTraces().keys.filter { it.name.startsWith("confirma-") }
        assertTrue(workers.isNotEmpty() && workers.all { it.isDaemon }, "the native threads are daemons: $workers")
    }

    @Test
    fun `cancelling a String-token call cancels the native request`() = runBlocking {
        val created = client.createClient(sandbox.provisioningToken, newClient())
        sandbox.fault("""{"kind":"delay","ms":5000,"path":"/api/v1/partner/renew","times":10}""")
        val started = TimeSource.Monotonic.markNow()
        val job = launch(Dispatchers.Default) { client.renewToken(created.accessToken.reveal()) }
        while (OnboardingClient.activeNativeCalls() == 0L && started.elapsedNow() < 3.seconds) delay(5)
        assertEquals(1L, OnboardingClient.activeNativeCalls(), "the call is running natively")
        job.cancel()
        job.join()
        while (OnboardingClient.activeNativeCalls() != 0L && started.elapsedNow() < 4.seconds) delay(5)
        assertEquals(0L, OnboardingClient.activeNativeCalls())
        assertTrue(started.elapsedNow() < 2.seconds, "cancelled promptly: ${started.elapsedNow()}")
    }

    @Test
    fun `cancelling the coroutine cancels the native request`() = runBlocking {
        val created = client.createClient(sandbox.provisioningToken, newClient())
        sandbox.fault("""{"kind":"delay","ms":5000,"path":"/api/v1/partner/validate","times":10}""")
        val started = TimeSource.Monotonic.markNow()
        val job = launch(Dispatchers.Default) { client.validateToken(created.accessToken) }
        while (OnboardingClient.activeNativeCalls() == 0L && started.elapsedNow() < 3.seconds) delay(5)
        assertEquals(1L, OnboardingClient.activeNativeCalls(), "the call is running natively")
        delay(200)
        job.cancel()
        job.join()
        // The native task is dropped (its HTTP request with it) long before the 5 s delay would have ended.
        while (OnboardingClient.activeNativeCalls() != 0L && started.elapsedNow() < 4.seconds) delay(5)
        assertEquals(0L, OnboardingClient.activeNativeCalls())
        assertTrue(started.elapsedNow() < 2.seconds, "cancelled promptly: ${started.elapsedNow()}")

        val t = TimeSource.Monotonic.markNow()
        assertFailsWith<TimeoutCancellationException> { withTimeout(300.milliseconds) { client.validateToken(created.accessToken) } }
        assertTrue(t.elapsedNow() < 2.seconds)

        val future = client.validateTokenAsync(created.accessToken)
        Thread.sleep(200)
        assertTrue(future.cancel(true))
        assertFailsWith<CancellationException> { future.get() }
        val t2 = TimeSource.Monotonic.markNow()
        while (OnboardingClient.activeNativeCalls() != 0L && t2.elapsedNow() < 3.seconds) delay(5)
        assertEquals(0L, OnboardingClient.activeNativeCalls())
    }

    @Test
    fun `blocking and CompletableFuture variants work from plain threads`() {
        val created = client.createClientBlocking(sandbox.provisioningToken, newClient())
        assertTrue(client.validateTokenBlocking(created.accessToken.reveal()).isValid)
        val status = client.validateTokenAsync(created.accessToken).get(10, TimeUnit.SECONDS)
        assertTrue(status.isValid)
        val renewed = client.renewTokenBlocking(created.accessToken)
        assertTrue(client.validateTokenBlocking(renewed.accessToken).isValid)
        val failed = assertFailsWith<ExecutionException> { client.renewTokenAsync(created.accessToken).get(10, TimeUnit.SECONDS) }
        assertIs<ConfirmaException.Authentication>(failed.cause)
    }

    @Test
    fun `validation errors carry sorted field errors and the core's message`() = runBlocking {
        val bad = newClient().let { it.copy(client = it.client.copy(email = "not-an-email", postalCode = "1")) }
        val e = assertFailsWith<ConfirmaException.Validation> { client.createClient(sandbox.provisioningToken, bad) }
        assertEquals(listOf("client.email", "client.postalCode"), e.fieldErrors.keys.toList())
        assertEquals(ValidationSource.CLIENT, e.source)
        assertEquals(ErrorKind.VALIDATION, e.kind)
        assertEquals("CONFIRMA_VALIDATION", e.code)
        assertNull(e.status)
        assertFalse(e.retryable)
        assertTrue(e.message!!.startsWith("request is invalid (2 problems): client.email: "), e.message)
        assertNoSecret(e.stackTraceToString(), sandbox.provisioningToken)
        assertEquals(0, sandbox.state().getInt("requestsServed"))

        // Server-side validation: a partner code the sandbox does not know.
        val wrongPartner = newClient().let { it.copy(service = it.service.copy(partnerCode = "NOPE99")) }
        val s = assertFailsWith<ConfirmaException.Validation> { client.createClient(sandbox.provisioningToken, wrongPartner) }
        assertEquals(ValidationSource.SERVER, s.source)
        assertNotNull(s.status)
        assertNotNull(s.requestId)

        // Loosely typed JSON input and bad JSON are validation errors too, never crashes.
        val j = assertFailsWith<ConfirmaException.Validation> { NewClient.fromJson("""{"service": 5}""") }
        assertTrue("service" in j.fieldErrors.keys, j.fieldErrors.toString())
        val notJson = assertFailsWith<ConfirmaException.Validation> { NewClient.fromJson("{not json") }
        assertEquals(setOf("newClient"), notJson.fieldErrors.keys)
        val huge = assertFailsWith<ConfirmaException.Validation> { client.validateToken("x".repeat(5_000_000)) }
        assertEquals(setOf("token"), huge.fieldErrors.keys)
        val parsed = NewClient.fromJson(
            """{"service":{"type":"co-op","partnerCode":"${sandbox.partnerCode}"},"client":{"name":"A Oy","business_code":"${businessId(7)}",
               "postalAddress":"Katu 1","postalCode":"00100","postalDistrict":"HELSINKI","countryCode":"FI","email":"a@b.fi","languageCode":"FI","telephone":""},
               "contacts":[{"role":"primary","name":"A","email":"a@b.fi"}]}""",
        )
        assertEquals(ServiceType.COOP, parsed.service.serviceType)
        assertEquals(ContactRole.PRIMARY, parsed.contacts.single().role)
        assertNull(parsed.client.telephone)
    }

    @Test
    fun `every error kind maps to its class with status, request id and retry facts`() = runBlocking {
        val created = client.createClient(sandbox.provisioningToken, newClient())
        val token = created.accessToken
        val secrets = arrayOf(sandbox.provisioningToken, token.reveal())
        fun <E : ConfirmaException> seen(e: E): E {
            assertNoSecret(e.stackTraceToString(), *secrets)
            assertEquals("CONFIRMA_" + e.kind.name, e.code)
            assertEquals(e.kind.id, e.kind.name.lowercase())
            return e
        }

        val auth = seen(assertFailsWith<ConfirmaException.Authentication> { client.renewToken("unknown-token-123456") })
        assertEquals(401, auth.status)
        assertNotNull(auth.requestId)

        val perm = seen(assertFailsWith<ConfirmaException.PermissionDenied> { client.createClient(token, newClient()) })
        assertEquals(403, perm.status)

        val dup = newClient()
        client.createClient(sandbox.provisioningToken, dup)
        val conflict = seen(assertFailsWith<ConfirmaException.Conflict> { client.createClient(sandbox.provisioningToken, dup) })
        assertEquals(409, conflict.status)
        assertFalse(conflict.retryable)

        OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, maxRetries = 0)).use { noRetry ->
            sandbox.fault("""{"kind":"status","status":429,"retryAfter":7}""")
            val rl = seen(assertFailsWith<ConfirmaException.RateLimited> { noRetry.validateToken(token) })
            assertEquals(429, rl.status)
            assertEquals(7.seconds, rl.retryAfter)
            assertEquals(7000L, rl.retryAfterMillis)
            assertTrue(rl.retryable)

            sandbox.fault("""{"kind":"status","status":503}""")
            val su = seen(assertFailsWith<ConfirmaException.ServiceUnavailable> { noRetry.validateToken(token) })
            assertEquals(503, su.status)

            sandbox.fault("""{"kind":"garbage"}""")
            val ur = seen(assertFailsWith<ConfirmaException.UnexpectedResponse> { noRetry.validateToken(token) })
            assertEquals(200, ur.status)

            sandbox.fault("""{"kind":"status","status":500}""")
            val ou = seen(assertFailsWith<ConfirmaException.OutcomeUnknown> { noRetry.createClient(sandbox.provisioningToken, newClient()) })
            assertEquals(Operation.CREATE_CLIENT, ou.operation)
            assertIs<ConfirmaException.ServiceUnavailable>(ou.cause)
            assertEquals(500, ou.cause.status)
            assertFalse(ou.retryable)
        }

        OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl, maxRetries = 0, timeout = 300.milliseconds)).use { quick ->
            sandbox.fault("""{"kind":"delay","ms":2000}""")
            val to = seen(assertFailsWith<ConfirmaException.Timeout> { quick.validateToken(token) })
            assertNull(to.status)
            assertTrue(to.retryable)
            sandbox.clearFaults()
        }

        val closedPort = ServerSocket(0).use { it.localPort }
        OnboardingClient(ClientConfig(baseUrl = "http://127.0.0.1:$closedPort", maxRetries = 0)).use { nowhere ->
            val net = seen(assertFailsWith<ConfirmaException.Network> { nowhere.validateToken(token) })
            assertNull(net.status)
            assertTrue(net.retryable)
        }

        val cfg = assertFailsWith<ConfirmaException.Configuration> { OnboardingClient(ClientConfig(baseUrl = "http://example.com")) }
        assertTrue(cfg.message!!.startsWith("configuration error: plain http:// is only allowed for loopback"), cfg.message)
        assertFailsWith<ConfirmaException.Configuration> { OnboardingClient(ClientConfig(maxRetries = -1)) }
        assertFailsWith<ConfirmaException.Configuration> { OnboardingClient(ClientConfig(timeout = 0.seconds)) }

        // The hierarchy is sealed: this `when` is exhaustive without an else branch.
        val described = listOf<ConfirmaException>(auth, perm, conflict, cfg).map {
            when (it) {
                is ConfirmaException.Validation -> "validation"
                is ConfirmaException.Authentication -> "authentication"
                is ConfirmaException.PermissionDenied -> "permission"
                is ConfirmaException.Conflict -> "conflict"
                is ConfirmaException.RateLimited -> "rate"
                is ConfirmaException.ServiceUnavailable -> "unavailable"
                is ConfirmaException.Timeout -> "timeout"
                is ConfirmaException.Network -> "network"
                is ConfirmaException.OutcomeUnknown -> "unknown"
                is ConfirmaException.UnexpectedResponse -> "unexpected"
                is ConfirmaException.Configuration -> "configuration"
                is ConfirmaException.Internal -> "internal"
                is ConfirmaException.Storage -> "storage"
                is ConfirmaException.CredentialsLost -> "lost"
            }
        }
        assertEquals(listOf("authentication", "permission", "conflict", "configuration"), described)
    }

    @Test
    fun `closed clients refuse calls and the native library came from the class path`() {
        val c = OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl))
        assertTrue(c.userAgent.startsWith("confirma-sdk/"), c.userAgent)
        assertTrue(c.userAgent.contains("kotlin/"), c.userAgent)
        c.close()
        c.close()
        assertFailsWith<IllegalStateException> { c.validateTokenBlocking("some-token") }
        assertNull(System.getProperty("jna.library.path"), "tests run without jna.library.path")
        // The native library's version (Cargo's) is the one Maven built this package as (the POM's project version).
        assertEquals(checkNotNull(System.getProperty("confirma.version")) { "Maven sets confirma.version" }, OnboardingClient.sdkVersion)
    }
}
