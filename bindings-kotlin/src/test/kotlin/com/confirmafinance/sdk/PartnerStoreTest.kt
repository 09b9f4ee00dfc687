package com.confirmafinance.sdk

import java.io.File
import java.sql.SQLException
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * A partner store over a real database (JDBC on SQLite, [JdbcCredentialStore]) through [CredentialStore.custom]:
 * the conformance suite, the lifecycle, concurrency, and a store that throws.
 */
class PartnerStoreTest : SandboxedTest("confirma-kt-partner", 8_300) {
    private fun dbFile() = File(dir, "p${seeds.incrementAndGet()}.db")

    /** Wraps a store; the methods named in [failing] throw as a JDBC driver would. */
    class FlakyStore(private val rows: PartnerCredentialStore) : PartnerCredentialStore {
        val failing: MutableSet<String> = ConcurrentHashMap.newKeySet()
        val calls = ConcurrentHashMap<String, AtomicInteger>()
        /** compareAndSwap calls whose number (1-based) is above this fail while [outage] is set. */
        @Volatile var casFailAbove = Int.MAX_VALUE
        @Volatile var outage = false
        val failed = AtomicInteger()
        private fun <T> call(name: String, block: () -> T): T {
            val n = calls.computeIfAbsent(name) { AtomicInteger() }.incrementAndGet()
            if (name in failing || (outage && name == "compareAndSwap" && n > casFailAbove)) {
                failed.incrementAndGet()
                throw SQLException("database is locked (simulated)")
            }
            return block()
        }
        override fun load(environment: String, clientId: String) = call("load") { rows.load(environment, clientId) }
        override fun insert(row: StoreRow, events: List<EventRow>) = call("insert") { rows.insert(row, events) }
        override fun compareAndSwap(expectedRevision: Long, row: StoreRow, events: List<EventRow>) =
            call("compareAndSwap") { rows.compareAndSwap(expectedRevision, row, events) }
        override fun delete(environment: String, clientId: String, expectedRevision: Long, events: List<EventRow>) =
            call("delete") { rows.delete(environment, clientId, expectedRevision, events) }
        override fun list(environment: String?) = call("list") { rows.list(environment) }
        override fun events(environment: String?, clientId: String?, afterSeq: Long, limit: Int) =
            call("events") { rows.events(environment, clientId, afterSeq, limit) }
        override fun describe() = "flaky(${rows.describe()})"
    }

    @Test
    fun `the conformance suite passes on the JDBC store, and names the failed check of a broken one`() = runBlocking<Unit> {
        val report = CredentialStore.check(JdbcCredentialStore(dbFile()))
        assertTrue(report.lines().size >= 5, report)
        assertTrue(CredentialStore.custom(JdbcCredentialStore(dbFile()), plaintext = true).use { CredentialStore.checkBlocking(it) }.isNotBlank())

        // A store whose compare-and-swap ignores the revision fails the suite with a Storage error naming the check.
        class NoCas(val rows: PartnerCredentialStore) : PartnerCredentialStore by rows {
            override fun compareAndSwap(expectedRevision: Long, row: StoreRow, events: List<EventRow>): Boolean {
                val current = rows.load(row.environment, row.clientId) ?: return false
                return rows.compareAndSwap(current.revision, row, events)
            }
        }
        val e = assertThrows<ConfirmaException.Storage> { CredentialStore.check(NoCas(JdbcCredentialStore(dbFile()))) }
        assertTrue(e.message!!.contains("conformance"), e.message)
        // A store that throws fails it too, typed.
        val flaky = FlakyStore(JdbcCredentialStore(dbFile())).apply { failing += "insert" }
        val f = assertThrows<ConfirmaException.Storage> { CredentialStore.check(flaky) }
        assertTrue(f.message!!.contains("java.sql.SQLException"), f.message)
    }

    @Test
    fun `the lifecycle over the JDBC store - create, token, renew, and a second store object on the same database`() = runBlocking<Unit> {
        val db = dbFile()
        val key = newStoreKey()
        CredentialStore.custom(JdbcCredentialStore(db), key).use { store ->
            assertTrue(store.description.startsWith("jdbc:sqlite:"), store.description)
            val c = client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), store)
            TokenManager(client, store).use { m ->
                assertEquals(c.accessToken.reveal(), m.token(c.clientId).reveal())
                val renewed = m.renewNow(c.clientId)
                assertEquals(2L, renewed.tokenVersion)
                assertTrue(renewed.encrypted)
            }
            CredentialStore.custom(JdbcCredentialStore(db), key).use { other ->
                TokenManager(client, other).use { m2 ->
                    val t = m2.token(c.clientId)
                    assertTrue(client.validateToken(t).isValid)
                    assertFalse(t.reveal() == c.accessToken.reveal())
                }
            }
            // What the partner's tables hold: the token only sealed; the events name kinds and fingerprints.
            val rows = JdbcCredentialStore(db)
            val row = rows.list(null).single()
            assertEquals(c.clientId, row.clientId)
            assertTrue(row.revision >= 3, "create, claim, commit: ${row.revision}")
            assertFalse(row.data.contains(c.accessToken.reveal()))
            assertFalse(row.toString().contains(row.data))
            val kinds = rows.events(null, null, 0, 100).map { it.kind }
            assertTrue(kinds.containsAll(listOf("create_started", "created", "renew_started", "rotated")), "$kinds")
        }
    }

    @Test
    fun `two managers over two JDBC store objects on one database renew exactly once`() = runBlocking<Unit> {
        val db = dbFile()
        val key = newStoreKey()
        val c = CredentialStore.custom(JdbcCredentialStore(db), key).use {
            client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), it)
        }
        sandbox.fault("""{"path":"$RENEW_PATH","kind":"delay","ms":1200}""")
        val stores = List(2) { CredentialStore.custom(JdbcCredentialStore(db), key) }
        val managers = stores.mapIndexed { i, s -> TokenManager(client, s, TokenManagerOptions(owner = "p$i", pollInterval = 50.milliseconds)) }
        try {
            val before = sandbox.renewRequests()
            val results = managers.map { m -> async(Dispatchers.Default) { m.renewNow(c.clientId) } }.awaitAll()
            assertEquals(1, sandbox.renewRequests() - before)
            assertEquals(results[0].fingerprint, results[1].fingerprint)
        } finally {
            managers.forEach { it.close() }
            stores.forEach { it.close() }
            sandbox.clearFaults()
        }
    }

    @Test
    fun `a store that throws gets ConfirmaException Storage and loses nothing`() = runBlocking<Unit> {
        val flaky = FlakyStore(JdbcCredentialStore(dbFile()))
        val key = newStoreKey()
        CredentialStore.custom(flaky, key).use { store ->
            val c = client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), store)
            TokenManager(client, store).use { m ->
                // The claim of a renewal fails: nothing is sent, the stored token keeps working.
                flaky.failing += "compareAndSwap"
                val before = sandbox.renewRequests()
                val e = assertThrows<ConfirmaException.Storage> { m.renewNow(c.clientId) }
                assertTrue(e.retryable, "a failing partner store is retryable")
                assertTrue(e.message!!.contains("java.sql.SQLException: database is locked (simulated)"), e.message)
                assertFalse(e.message!!.contains(c.accessToken.reveal()))
                assertEquals(before, sandbox.renewRequests(), "no renew request without a durable claim")
                flaky.failing.clear()
                val st = m.status(c.clientId)
                assertEquals(1L, st.tokenVersion)
                assertEquals(CredentialState.ACTIVE, st.state)
                assertTrue(client.validateToken(c.accessToken).isValid, "the stored token still works")
                assertEquals(c.accessToken.reveal(), m.token(c.clientId).reveal())

                // Reads fail: typed, and the next call after recovery works.
                flaky.failing += "load"
                assertThrows<ConfirmaException.Storage> { m.status(c.clientId) }
                CredentialStore.custom(flaky, key).use { s2 ->
                    TokenManager(client, s2).use { fresh -> assertThrows<ConfirmaException.Storage> { fresh.token(c.clientId) } }
                }
                flaky.failing.clear()
                assertEquals(2L, m.renewNow(c.clientId).tokenVersion)
                assertTrue(client.validateToken(m.token(c.clientId)).isValid)
            }
        }
    }

    @Test
    fun `a store that fails while a renewed token is being committed loses nothing - the core retries the commit`() = runBlocking<Unit> {
        val db = dbFile()
        val key = newStoreKey()
        val flaky = FlakyStore(JdbcCredentialStore(db))
        CredentialStore.custom(flaky, key).use { store ->
            val c = client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), store)
            TokenManager(client, store).use { m ->
                // The claim (the next swap) succeeds; every swap after it fails until the outage ends: the renew
                // request has then rotated the token, and the new one exists only in the manager's hands.
                flaky.casFailAbove = (flaky.calls["compareAndSwap"]?.get() ?: 0) + 1
                flaky.outage = true
                val renewal = async(Dispatchers.Default) { m.renewNow(c.clientId) }
                eventually("the commit failed a few times") { flaky.failed.get() >= 3 }
                assertFalse(client.validateToken(c.accessToken).isValid, "the service rotated the token meanwhile")
                flaky.outage = false
                val st = renewal.await()
                assertEquals(2L, st.tokenVersion)
                assertEquals(CredentialState.ACTIVE, st.state)
                assertTrue(client.validateToken(m.token(c.clientId)).isValid)
            }
            // Persisted: a fresh store object and manager read the new token, and it works.
            CredentialStore.custom(JdbcCredentialStore(db), key).use { again ->
                TokenManager(client, again).use { m2 ->
                    assertEquals(2L, m2.status(c.clientId).tokenVersion)
                    assertTrue(client.validateToken(m2.token(c.clientId)).isValid)
                }
            }
        }
    }

    @Test
    fun `a store returning nonsense is a Storage error, never a crash`() = runBlocking<Unit> {
        val jdbc = JdbcCredentialStore(dbFile())
        val key = newStoreKey()
        val c = CredentialStore.custom(jdbc, key).use {
            client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, seeds.incrementAndGet()), it)
        }
        class Nonsense(val mode: String) : PartnerCredentialStore by jdbc {
            override fun load(environment: String, clientId: String): StoreRow? = when (mode) {
                "other-row" -> jdbc.load(environment, clientId)?.copy(clientId = "someone-else")
                "negative" -> jdbc.load(environment, clientId)?.copy(revision = -1)
                "garbage" -> jdbc.load(environment, clientId)?.copy(data = "{not json")
                else -> @Suppress("UNCHECKED_CAST") (null as Any?) as StoreRow
            }
        }
        for (mode in listOf("other-row", "negative", "garbage", "null-where-a-row-belongs")) {
            CredentialStore.custom(Nonsense(mode), key).use { store ->
                TokenManager(client, store).use { m ->
                    val e = assertThrows<ConfirmaException>(mode) { m.token(c.clientId) }
                    assertTrue(e is ConfirmaException.Storage, "$mode: ${e::class.simpleName}: ${e.message}")
                }
            }
        }
        // The real rows are untouched.
        CredentialStore.custom(jdbc, key).use { store ->
            TokenManager(client, store).use { m -> assertEquals(c.accessToken.reveal(), m.token(c.clientId).reveal()) }
        }
    }
}
