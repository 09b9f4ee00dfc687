package com.confirmafinance.sdk

import java.io.File

/**
 * One instance of a fleet, in its own JVM (TwoProcessTest): opens the SQLite store (key from CONFIRMA_STORE_KEY),
 * builds a manager, says `ready`, waits for the go file, renews the client, prints `done <version> <fingerprint>`.
 * Args: baseUrl dbPath clientId owner goFile. Never prints a token.
 */
object RenewWorkerMain {
    @JvmStatic
    fun main(args: Array<String>) {
        val (baseUrl, db, clientId, owner, go) = args
        try {
            OnboardingClient(ClientConfig(baseUrl = baseUrl)).use { client ->
                CredentialStore.sqlite(db).use { store ->
                    TokenManager(client, store, TokenManagerOptions(owner = owner)).use { m ->
                        println("ready")
                        System.out.flush()
                        val deadline = System.nanoTime() + 60_000_000_000L
                        while (!File(go).exists()) {
                            check(System.nanoTime() < deadline) { "no go signal" }
                            Thread.sleep(5)
                        }
                        val s = m.renewNowBlocking(clientId)
                        println("done ${s.tokenVersion} ${s.fingerprint} ${s.state.id}")
                    }
                }
            }
        } catch (e: Exception) {
            println("error ${e::class.simpleName}: ${e.message}")
            System.out.flush()
            kotlin.system.exitProcess(1)
        }
    }
}
