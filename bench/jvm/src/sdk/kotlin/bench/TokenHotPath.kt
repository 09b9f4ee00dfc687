// The per-call cost of com.confirmafinance.sdk.TokenManager.token() on the hot path (the token served from
// memory), run by bench/lifecycle_bindings.py with the binding's jar as installed for the JVM contestants:
//
//   CONFIRMA_PROVISIONING_TOKEN=... java -cp <bench/jvm classpath> bench.TokenHotPathKt <baseUrl> <partnerCode> [seconds]
//
// The token comes from the environment only, never argv. Prints `kotlin token() hot path: N ns/call (M calls)`,
// the same for `tokenBlocking()`, and, for context, the floor of any call into the native library through
// uniffi/JNA (`sdkVersion`).
package bench

import com.confirmafinance.sdk.ClientConfig
import com.confirmafinance.sdk.CredentialStore
import com.confirmafinance.sdk.NewClient
import com.confirmafinance.sdk.OnboardingClient
import com.confirmafinance.sdk.TokenManager
import com.confirmafinance.sdk.ValidationMode
import com.confirmafinance.sdk.fromJson
import kotlinx.coroutines.runBlocking
import kotlin.system.exitProcess

fun main(args: Array<String>) {
    val baseUrl = args.getOrNull(0) ?: System.getenv("CONFIRMA_BASE_URL")
    val partner = args.getOrNull(1) ?: System.getenv("CONFIRMA_PARTNER_CODE")
    val seconds = (args.getOrNull(2) ?: "3").toDouble()
    val pt = System.getenv("CONFIRMA_PROVISIONING_TOKEN")
    if (baseUrl == null || partner == null || pt == null) {
        System.err.println("usage: CONFIRMA_PROVISIONING_TOKEN=... TokenHotPathKt <baseUrl> <partnerCode> [seconds]")
        exitProcess(2)
    }
    OnboardingClient(ClientConfig(baseUrl = baseUrl)).use { client ->
        CredentialStore.memory().use { store ->
            TokenManager(client, store).use { m ->
                val code = Ids(System.nanoTime() % 9_000_000).businessCode()
                val form = NewClient.fromJson(newClientJson(partner, code), ValidationMode.STRICT)
                val id = client.createClientBlocking(pt, form, store).clientId
                var sink = 0
                runBlocking {
                    repeat(20_000) { // warm-up (JIT) of every path measured
                        sink += System.identityHashCode(m.token(id))
                        sink += System.identityHashCode(m.tokenBlocking(id))
                        sink += OnboardingClient.sdkVersion.length
                    }
                    suspend fun timed(label: String, call: suspend () -> Int) {
                        val until = System.nanoTime() + (seconds * 1e9).toLong()
                        var calls = 0L
                        val t0 = System.nanoTime()
                        while (System.nanoTime() < until) {
                            repeat(1000) { sink += call() }
                            calls += 1000
                        }
                        println("kotlin $label: ${(System.nanoTime() - t0) / calls} ns/call ($calls calls)")
                    }
                    timed("token() hot path") { System.identityHashCode(m.token(id)) }
                    timed("tokenBlocking() hot path") { System.identityHashCode(m.tokenBlocking(id)) }
                    timed("native call floor (sdkVersion)") { OnboardingClient.sdkVersion.length }
                }
                if (sink == 42) println()
            }
        }
    }
}
