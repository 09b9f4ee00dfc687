package com.confirmafinance.sdk

import java.io.File
import java.nio.file.Files
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** Two managers in two JVM processes on one SQLite file renew the same client at once: one renew for the fleet. */
class TwoProcessTest {
    @Test
    fun `two JVM processes on one SQLite file renew exactly once`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("confirma-kt-fleet").toFile()
        Sandbox.start().use { sandbox ->
            OnboardingClient(ClientConfig(baseUrl = sandbox.baseUrl)).use { client ->
                val db = File(dir, "fleet.db").path
                val key = newStoreKey()
                val c = CredentialStore.sqlite(db, key).use {
                    client.createClient(sandbox.provisioningToken, sampleClient(sandbox.partnerCode, 9_401), store = it)
                }
                // Long enough that the second instance arrives while the first one's renewal is in flight.
                sandbox.fault("""{"path":"$RENEW_PATH","kind":"delay","ms":1500}""")
                val go = File(dir, "go")
                val java = File(System.getProperty("java.home"), "bin/java").path
                val workers = listOf("p1", "p2").map { owner ->
                    val pb = ProcessBuilder(
                        java, "-cp", System.getProperty("java.class.path"), "-Dconfirma.repoRoot=${repoRoot.path}",
                        RenewWorkerMain::class.java.name, sandbox.baseUrl, db, c.clientId, owner, go.path,
                    ).redirectError(ProcessBuilder.Redirect.INHERIT)
                    pb.environment()["CONFIRMA_STORE_KEY"] = key // the key in the environment, never in argv
                    val p = pb.start()
                    val lines = LinkedBlockingQueue<String>()
                    Thread({ p.inputStream.bufferedReader().forEachLine { lines.put(it) } }, "worker-$owner").apply { isDaemon = true }.start()
                    Triple(owner, p, lines)
                }
                try {
                    for ((owner, _, lines) in workers) {
                        assertEquals("ready", lines.poll(60, TimeUnit.SECONDS), "$owner did not start")
                    }
                    val before = sandbox.renewRequests()
                    go.createNewFile()
                    val done = workers.map { (owner, p, lines) ->
                        val line = lines.poll(60, TimeUnit.SECONDS) ?: error("$owner did not finish")
                        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "$owner did not exit")
                        assertTrue(line.startsWith("done "), "$owner: $line")
                        line.split(" ")
                    }
                    assertEquals(1, sandbox.renewRequests() - before, "one renew request for the two processes")
                    assertEquals(listOf("2", "2"), done.map { it[1] })
                    assertEquals(done[0][2], done[1][2], "both processes end on the same token")
                    assertEquals(listOf("active", "active"), done.map { it[3] })
                    sandbox.clearFaults()
                    CredentialStore.sqlite(db, key).use { store ->
                        TokenManager(client, store).use { m -> assertTrue(client.validateToken(m.token(c.clientId)).isValid) }
                    }
                } finally {
                    workers.forEach { (_, p, _) -> p.destroyForcibly() }
                    dir.deleteRecursively()
                }
            }
        }
    }
}
