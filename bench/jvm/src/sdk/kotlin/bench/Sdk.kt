// The Kotlin binding as a contestant: com.confirmafinance.sdk.OnboardingClient's suspend functions (confirma) or its
// `…Blocking` functions (confirma-blocking: each concurrent caller on its own platform thread, see Main.kt).
package bench

import com.confirmafinance.sdk.ClientConfig
import com.confirmafinance.sdk.OnboardingClient
import com.confirmafinance.sdk.SecretToken
import com.fasterxml.jackson.databind.JsonNode

class SdkOps(private val spec: JsonNode, override val blocking: Boolean) : Ops {
    private val ids = Ids(spec.path("idBase").asLong(0))
    private val client: OnboardingClient
    override val importMs: Double
    override val newClientMs: Double

    init {
        val t0 = System.nanoTime()
        Class.forName("com.confirmafinance.sdk.OnboardingClient")
        val t1 = System.nanoTime()
        client = OnboardingClient(ClientConfig(baseUrl = spec["baseUrl"].asText()))
        importMs = (t1 - t0) / 1e6
        newClientMs = (System.nanoTime() - t1) / 1e6
    }

    override suspend fun validate(token: String) {
        val status = if (blocking) client.validateTokenBlocking(token) else client.validateToken(token)
        if (!status.isValid) throw IllegalStateException("token not valid")
    }

    override suspend fun flow() = if (blocking) flowBlocking() else flowSuspending()

    private fun flowBlocking() {
        val created = SecretToken(spec["provisioningToken"].asText()).use {
            client.createClientFromJsonBlocking(it, newClientJson(spec["partnerCode"].asText(), ids.businessCode()))
        }
        if (!client.validateTokenBlocking(created.accessToken).isValid) throw IllegalStateException("token not valid")
        val renewed = client.renewTokenBlocking(created.accessToken)
        if (!client.validateTokenBlocking(renewed.accessToken).isValid) throw IllegalStateException("token not valid")
    }

    private suspend fun flowSuspending() {
        val created = client.createClientFromJson(
            spec["provisioningToken"].asText(), newClientJson(spec["partnerCode"].asText(), ids.businessCode()),
        )
        if (!client.validateToken(created.accessToken).isValid) throw IllegalStateException("token not valid")
        val renewed = client.renewToken(created.accessToken)
        if (!client.validateToken(renewed.accessToken).isValid) throw IllegalStateException("token not valid")
    }

    override fun close() = client.close()
}
