package com.confirmafinance.sdk

import kotlin.time.Duration.Companion.milliseconds
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test

/**
 * `CredentialStore.postgres` on a real PostgreSQL: the throwaway cluster of scripts/postgres.sh
 * (CONFIRMA_TEST_POSTGRES_URL; scripts/test.sh runs the suite under it and sets CONFIRMA_REQUIRE_POSTGRES=1, so the
 * test fails rather than skips there when the cluster is missing).
 */
class PostgresStoreTest {
    @Test
    fun `PostgreSQL store - create into it, two managers with their own pools renew once, the token serves`() = runBlocking<Unit> {
        val url = System.getenv("CONFIRMA_TEST_POSTGRES_URL")
        if (url == null) {
            if (System.getenv("CONFIRMA_REQUIRE_POSTGRES") == "1") fail<Unit>("CONFIRMA_TEST_POSTGRES_URL is not set")
            assumeTrue(false, "no PostgreSQL (run under scripts/postgres.sh run -- …)")
        }
        val password = Regex("://[^:/@]+:([^@]+)@").find(url!!)?.groupValues?.get(1) ?: fail("no password in the test URL")
        Sandbox.start().use { sandbox ->
            OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl)).use { client ->
                val key = newStoreKey()
                val stores = listOf(CredentialStore.postgres(url, key), CredentialStore.postgresBlocking(url, key))
                try {
                    for (s in stores) {
                        assertTrue(s.description.startsWith("postgres://"), s.description)
                        assertFalse(s.toString().contains(password), "the password in toString: $s")
                    }
                    val c = client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, 9_777), store = stores[0])
                    sandbox.fault("""{"path":"$RENEW_PATH","kind":"delay","ms":1200}""")
                    val managers = stores.mapIndexed { i, s -> TokenManager(client, s, TokenManagerOptions(owner = "pg$i", pollInterval = 50.milliseconds)) }
                    try {
                        assertEquals(c.accessToken, managers[1].token(c.clientId))
                        val before = sandbox.renewRequests()
                        val results = managers.map { m -> async(Dispatchers.Default) { m.renewNow(c.clientId) } }.awaitAll()
                        assertEquals(1, sandbox.renewRequests() - before, "one renew request for two managers")
                        assertEquals(results[0].fingerprint, results[1].fingerprint)
                        assertEquals(2L, results[1].tokenVersion)
                        sandbox.clearFaults()
                        val t = managers[1].token(c.clientId)
                        assertEquals(t, managers[0].token(c.clientId))
                        assertTrue(client.validateToken(t).isValid)
                    } finally {
                        managers.forEach { it.close() }
                    }
                } finally {
                    stores.forEach { it.close() }
                }
            }
        }
    }
}
