package com.confirmafinance.sdk

import java.io.File
import java.security.SecureRandom
import java.util.Base64
import kotlin.time.Duration.Companion.hours
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** A fresh store key (base64 of 32 random bytes). */
fun newStoreKey(): String = Base64.getEncoder().encodeToString(ByteArray(32).also { SecureRandom().nextBytes(it) })

/** Polls [condition] until it holds or [timeoutMs] passes (then fails with [what]). */
suspend fun eventually(what: String, timeoutMs: Long = 15_000, condition: suspend () -> Boolean) {
    val deadline = System.nanoTime() + timeoutMs * 1_000_000
    while (!condition()) {
        if (System.nanoTime() > deadline) throw AssertionError("timed out waiting for: $what")
        delay(20)
    }
}

const val RENEW_PATH = "/api/v1/partner/renew"

fun Sandbox.renewRequests(): Int = state().getJSONObject("requestsByPath").optInt(RENEW_PATH, 0)

/** The token lifecycle through the public API, against the real sandbox and real SQLite files. */
class LifecycleTest : SandboxedTest("confirma-kt-lifecycle", 7_100) {
    private suspend fun created(): CreatedClient =
        client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()))

    private fun sqliteFile(): String = File(dir, "c${seeds.incrementAndGet()}.db").path

    @Test
    fun `import, token from memory, status, events, and nothing prints a token`() = runBlocking<Unit> {
        val c = created()
        val raw = c.accessToken.reveal()
        CredentialStore.memory().use { store ->
            TokenManager(client, store).use { m ->
                val seen = mutableListOf<TokenEvent>()
                val collector = launch(start = CoroutineStart.UNDISPATCHED) { m.events.collect { seen += it } }
                val imported = m.importCredentials(c.clientId, c.accessToken, c.customerCode, c.paymentReferencePrefix)
                assertEquals(CredentialState.ACTIVE, imported.state)
                assertEquals(Health.HEALTHY, imported.health)
                assertEquals(1L, imported.tokenVersion)
                assertTrue(imported.encrypted, "memory() seals under an ephemeral key")
                assertEquals(c.customerCode, imported.customerCode)
                assertEquals(raw, m.token(c.clientId).reveal())
                assertEquals(raw, m.tokenBlocking(c.clientId).reveal())

                val heard = java.util.concurrent.CopyOnWriteArrayList<String>()
                val listening = m.onEvent { e -> heard += e.kind.id; if (e.kind == EventKind.RENEW_STARTED) error("a listener that throws") }
                val renewed = m.renewNow(c.clientId)
                assertEquals(2L, renewed.tokenVersion)
                assertNotEquals(imported.fingerprint, renewed.fingerprint)
                val fresh = m.token(c.clientId)
                assertNotEquals(raw, fresh.reveal())
                assertTrue(client.validateToken(fresh).isValid)
                assertFalse(client.validateToken(raw).isValid, "renew rotates: the old token is dead")
                assertEquals(listOf(renewed), m.statuses())

                eventually("the rotated event") { seen.any { it.kind == EventKind.ROTATED } }
                val kinds = seen.map { it.kind.id }
                assertTrue(kinds.containsAll(listOf("imported", "renew_started", "rotated")), "$kinds")
                assertTrue(seen.all { it.clientId == c.clientId && it.environment == m.environment })
                collector.cancel()
                eventually("the Java listener heard the rotation despite throwing") { "rotated" in heard }
                listening.close()

                val printed = listOf(m, store, imported, renewed, fresh, seen, m.options).joinToString("\n")
                for (secret in listOf(raw, fresh.reveal())) assertFalse(printed.contains(secret), "a token in toString: $printed")
                assertTrue(m.toString().contains("memory"), m.toString())
            }
        }
    }

    @Test
    fun `createClient with a store commits the credentials, a second handle on the SQLite file serves them`() = runBlocking<Unit> {
        val path = sqliteFile()
        val key = newStoreKey()
        val form = sampleClient(sandbox.partnerCode, seeds.incrementAndGet())
        val c = CredentialStore.sqlite(path, key).use { store -> client.createClient(sandbox.provisioningToken, form, store = store) }
        CredentialStore.sqlite(path, key).use { store ->
            assertFalse(store.toString().contains(key), store.toString())
            TokenManager(client, store, TokenManagerOptions(owner = "reader")).use { m ->
                val st = m.status(c.clientId)
                assertEquals(CredentialState.ACTIVE, st.state)
                assertEquals(c.customerCode, st.customerCode)
                assertEquals(c.accessToken.reveal(), m.token(c.clientId).reveal())
                // A repeat of the same business code is a Conflict (never a second client), and nothing is lost.
                val again = assertThrows<ConfirmaException.Conflict> { m.createClient(sandbox.provisioningToken, form) }
                assertFalse(again.message!!.contains(c.accessToken.reveal()))
                assertEquals(c.accessToken.reveal(), m.token(c.clientId).reveal())
            }
        }
        // The blocking form, and the file holds no token in clear.
        val c2 = CredentialStore.sqlite(path, key).use { store ->
            client.createClientBlocking(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), store)
        }
        val bytes = File(path).readBytes() + (File("$path-wal").takeIf { it.exists() }?.readBytes() ?: ByteArray(0))
        val text = String(bytes, Charsets.ISO_8859_1)
        for (t in listOf(c.accessToken.reveal(), c2.accessToken.reveal())) assertFalse(text.contains(t), "a token in clear in the SQLite file")
    }

    @Test
    fun `typed errors - no key, bad options, unknown client, closed manager`() = runBlocking<Unit> {
        val noKey = assertThrows<ConfirmaException.Storage> { CredentialStore.sqlite(sqliteFile(), key = null) }
        assertTrue(noKey.message!!.contains("CONFIRMA_STORE_KEY"), noKey.message)
        assertThrows<ConfirmaException.Storage> { CredentialStore.sqlite(sqliteFile(), key = "too short") }
        CredentialStore.sqlite(sqliteFile(), plaintext = true).use { assertFalse(it.encrypted) }
        // An unreachable PostgreSQL: a typed, retryable-or-not Storage error that never shows the password.
        val pg = assertThrows<ConfirmaException.Storage> { CredentialStore.postgres("postgres://app:s3cret-pw@127.0.0.1:1/app", key = newStoreKey()) }
        assertFalse(pg.message!!.contains("s3cret-pw"), pg.message)
        assertThrows<ConfirmaException.Storage> { CredentialStore.postgresBlocking("not a dsn", key = newStoreKey()) }
        CredentialStore.memory().use { store ->
            for ((options, name) in listOf(
                TokenManagerOptions(renewEvery = (-1).seconds) to "renewEvery",
                TokenManagerOptions(jitter = 0.9) to "jitter",
                TokenManagerOptions(pollInterval = kotlin.time.Duration.ZERO) to "pollInterval",
                TokenManagerOptions(renewAtFraction = 1.0) to "renewAtFraction",
                TokenManagerOptions(failureBackoff = 2.hours, failureBackoffMax = 1.hours) to "failureBackoffMax",
                TokenManagerOptions(owner = "a\nb") to "owner",
            )) {
                val e = assertThrows<ConfirmaException.Configuration>(name) { TokenManager(client, store, options) }
                assertTrue(e.message!!.contains(name), "${e.message} should name $name")
            }
            val m = TokenManager(client, store, TokenManagerOptions(renewEvery = 12.hours, pollInterval = 50.milliseconds))
            val e = assertThrows<ConfirmaException.Configuration> { m.token("no-such-client") }
            assertTrue(e.message!!.contains("no-such-client"), e.message)
            assertThrows<ConfirmaException.Validation> { m.importCredentials("c-1", "not-a-token-the-service-knows-0123456789") }
            m.close()
            assertThrows<IllegalStateException> { m.tokenBlocking("x") }
        }
    }

    @Test
    fun `two managers with separate handles on one SQLite file renew exactly once`() = runBlocking<Unit> {
        val path = sqliteFile()
        val key = newStoreKey()
        val c = CredentialStore.sqlite(path, key).use { client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), it) }
        sandbox.fault("""{"path":"$RENEW_PATH","kind":"delay","ms":1200}""")
        val stores = listOf(CredentialStore.sqlite(path, key), CredentialStore.sqlite(path, key))
        val managers = stores.mapIndexed { i, s -> TokenManager(client, s, TokenManagerOptions(owner = "m$i", pollInterval = 50.milliseconds)) }
        try {
            val before = sandbox.renewRequests()
            val results = managers.map { m -> async(Dispatchers.Default) { m.renewNow(c.clientId) } }.awaitAll()
            assertEquals(1, sandbox.renewRequests() - before, "exactly one renew request for two managers")
            assertEquals(results[0].fingerprint, results[1].fingerprint)
            assertEquals(2L, results[0].tokenVersion)
            assertEquals(managers[0].token(c.clientId), managers[1].token(c.clientId))
        } finally {
            managers.forEach { it.close() }
            stores.forEach { it.close() }
            sandbox.clearFaults()
        }
    }

    @Test
    fun `a cancelled renewNow stops waiting but the rotation completes and is persisted`() = runBlocking<Unit> {
        val path = sqliteFile()
        val key = newStoreKey()
        CredentialStore.sqlite(path, key).use { store ->
            val c = client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), store)
            TokenManager(client, store).use { m ->
                sandbox.fault("""{"path":"$RENEW_PATH","kind":"delay","ms":1500}""")
                val before = sandbox.renewRequests()
                val job = launch(Dispatchers.Default) { m.renewNow(c.clientId) }
                eventually("the renew request reached the sandbox") { sandbox.renewRequests() > before }
                job.cancel()
                job.join()
                assertTrue(job.isCancelled)
                eventually("the rotation was committed") { m.status(c.clientId).let { it.tokenVersion == 2L && it.state == CredentialState.ACTIVE } }
                sandbox.clearFaults()
                assertFalse(client.validateToken(c.accessToken).isValid, "the old token was rotated")
            }
            // A fresh manager (fresh handle) serves the persisted new token, which works.
            CredentialStore.sqlite(path, key).use { again ->
                TokenManager(client, again).use { m2 ->
                    val t = m2.token(c.clientId)
                    assertTrue(client.validateToken(t).isValid)
                    assertEquals(1, sandbox.renewRequests(), "the cancelled rotation was not repeated")
                }
            }
        }
    }

    @Test
    fun `a cancelled token() of an expired token stops waiting but the renewal completes and is persisted`() = runBlocking<Unit> {
        sandbox.config("""{"tokenTtlSeconds": 2}""")
        val path = sqliteFile()
        val key = newStoreKey()
        CredentialStore.sqlite(path, key).use { store ->
            val c = client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), store)
            val expiresAt = checkNotNull(c.tokenExpiresAt) { "the sandbox gave the token an expiry" }
            TokenManager(client, store).use { m ->
                eventually("the token expired", timeoutMs = 10_000) { java.time.Instant.now().isAfter(expiresAt.plusMillis(50)) }
                sandbox.fault("""{"path":"$RENEW_PATH","kind":"delay","ms":1500}""")
                val before = sandbox.renewRequests()
                val job = launch(Dispatchers.Default) { m.token(c.clientId) }
                eventually("the renew request reached the sandbox") { sandbox.renewRequests() > before }
                job.cancel()
                job.join()
                eventually("the renewal was committed") { m.status(c.clientId).let { it.tokenVersion == 2L && it.state == CredentialState.ACTIVE } }
                sandbox.clearFaults()
                val t = withTimeout(10_000) { m.token(c.clientId) }
                assertNotEquals(c.accessToken.reveal(), t.reveal())
                assertTrue(client.validateToken(t).isValid)
            }
        }
    }

    @Test
    fun `events flow completes when the manager is closed`() = runBlocking<Unit> {
        CredentialStore.memory().use { store ->
            val m = TokenManager(client, store)
            val c = created()
            val all = async(start = CoroutineStart.UNDISPATCHED) { withTimeout(10_000) { m.events.toList() } }
            m.importCredentials(c.clientId, c.accessToken)
            repeat(3) { assertEquals(c.accessToken, m.token(c.clientId)) } // the hot-path handle is made and used
            m.close()
            val events = all.await()
            assertEquals(listOf(EventKind.IMPORTED), events.map { it.kind })
        }
    }
}
