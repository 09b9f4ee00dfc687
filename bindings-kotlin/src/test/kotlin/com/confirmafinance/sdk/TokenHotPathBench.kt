package com.confirmafinance.sdk

import kotlinx.coroutines.runBlocking

/**
 * The per-call cost of `TokenManager.token()` on the hot path (the token served from memory), one line:
 * `kotlin token() hot path: N ns/call (M calls)`.
 *
 * Against a sandbox you started (`CFIS_BASE_URL`, `CFIS_PROVISIONING_TOKEN`, `CFIS_PARTNER_CODE`), else against one
 * it starts (`CONFIRMA_SANDBOX_BIN` or the workspace's debug build). Calls: `-Dconfirma.bench.calls` (10⁵). For
 * context it also prints the floor of any call into the native library through uniffi/JNA (`sdkVersion`).
 *
 * ```
 * mvn -o -q -f bindings-kotlin/pom.xml -Dconfirma.skipNative=true test-compile exec:java \
 *   -Dexec.classpathScope=test -Dexec.mainClass=com.confirmafinance.sdk.TokenHotPathBench
 * ```
 */
object TokenHotPathBench {
    @JvmStatic
    fun main(args: Array<String>) {
        val calls = System.getProperty("confirma.bench.calls")?.toInt() ?: 100_000
        val url = System.getenv("CFIS_BASE_URL")
        val sandbox = if (url == null) Sandbox.start() else null
        try {
            val baseUrl = url ?: sandbox!!.baseUrl
            val pt = System.getenv("CFIS_PROVISIONING_TOKEN") ?: sandbox!!.provisioningToken
            val partner = System.getenv("CFIS_PARTNER_CODE") ?: sandbox!!.partnerCode
            OnboardingClient(ClientConfig(baseUrl = baseUrl)).use { client ->
                CredentialStore.memory().use { store ->
                    TokenManager(client, store).use { m ->
                        val seed = (System.nanoTime() % 1_000_000).toInt()
                        val c = client.createClientBlocking(pt, sampleClient(partner, seed), store)
                        runBlocking {
                            var sink = 0
                            repeat(minOf(calls, 20_000)) {   // warm-up (JIT) of both paths and the floor
                                sink += System.identityHashCode(m.token(c.clientId))
                                sink += System.identityHashCode(m.tokenBlocking(c.clientId))
                                sink += OnboardingClient.sdkVersion.length
                            }
                            val t0 = System.nanoTime()
                            repeat(calls) { sink += System.identityHashCode(m.token(c.clientId)) }
                            val ns = (System.nanoTime() - t0) / calls
                            println("kotlin token() hot path: $ns ns/call ($calls calls)")
                            val t1 = System.nanoTime()
                            repeat(calls) { sink += System.identityHashCode(m.tokenBlocking(c.clientId)) }
                            println("kotlin tokenBlocking() hot path: ${(System.nanoTime() - t1) / calls} ns/call ($calls calls)")
                            val t2 = System.nanoTime()
                            repeat(calls) { sink += OnboardingClient.sdkVersion.length }
                            println("kotlin native call floor (sdkVersion): ${(System.nanoTime() - t2) / calls} ns/call ($calls calls)")
                            if (sink == 42) println()
                        }
                    }
                }
            }
        } finally {
            sandbox?.close()
        }
    }
}
