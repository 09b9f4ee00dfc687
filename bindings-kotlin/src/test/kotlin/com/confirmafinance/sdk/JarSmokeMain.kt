package com.confirmafinance.sdk

/**
 * Run in a fresh JVM by [JarLoadingIT] with only the packaged jar and its Maven dependencies on the class path
 * (no -Djna.library.path, no LD_LIBRARY_PATH): creates a client, validates its token, prints timings.
 * Args: baseUrl provisioningToken partnerCode.
 */
object JarSmokeMain {
    @JvmStatic
    fun main(args: Array<String>) {
        val jvmStart = java.lang.management.ManagementFactory.getRuntimeMXBean().startTime
        val t0 = System.nanoTime()
        OnboardingClient(ClientConfig(baseUrl = args[0])).use { client ->
            val t1 = System.nanoTime()
            val created = client.createClientBlocking(args[1], sampleClient(args[2], 4242))
            val t2 = System.nanoTime()
            val status = client.validateTokenBlocking(created.accessToken)
            val t3 = System.nanoTime()
            val source = OnboardingClient::class.java.protectionDomain.codeSource.location
            println(
                "SMOKE ok valid=${status.isValid} loadAndBuildMs=${(t1 - t0) / 1_000_000} firstCallMs=${(t2 - t1) / 1_000_000} " +
                    "secondCallMs=${(t3 - t2) / 1_000_000} sinceJvmStartMs=${System.currentTimeMillis() - jvmStart} from=$source",
            )
        }
    }
}
