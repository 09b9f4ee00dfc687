// The OkHttp peer (jvm-okhttp): what Kotlin/Android code usually calls a JSON API with.
// One OkHttpClient whose Dispatcher and ConnectionPool allow at least `concurrency` requests/idle connections to
// the one host; each call is Call.enqueue awaited with suspendCancellableCoroutine (a coroutine cancel cancels the
// Call); the body is parsed with Jackson like the java.net.http peer.
package bench

import com.fasterxml.jackson.databind.JsonNode
import kotlinx.coroutines.suspendCancellableCoroutine
import okhttp3.Call
import okhttp3.Callback
import okhttp3.ConnectionPool
import okhttp3.Dispatcher
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import okhttp3.Response
import java.io.IOException
import java.util.concurrent.TimeUnit
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException

private val JSON = "application/json".toMediaType()

class OkHttpOps(private val spec: JsonNode) : Ops {
    private val base = spec["baseUrl"].asText().trimEnd('/')
    private val ids = Ids(spec.path("idBase").asLong(0))
    private val validateUrl = "$base/api/v1/partner/validate".toHttpUrl()
    private val renewUrl = "$base/api/v1/partner/renew".toHttpUrl()
    private val createUrl = "$base/api/v1/partner/client".toHttpUrl()
    override val importMs = 0.0
    private val client: OkHttpClient
    override val newClientMs: Double

    init {
        val t0 = System.nanoTime()
        val n = maxOf(spec.path("concurrency").asInt(1), 64)
        val dispatcher = Dispatcher().apply { maxRequests = n; maxRequestsPerHost = n }
        client = OkHttpClient.Builder()
            .dispatcher(dispatcher)
            .connectionPool(ConnectionPool(n, 5, TimeUnit.MINUTES))
            .build()
        newClientMs = (System.nanoTime() - t0) / 1e6
    }

    private suspend fun send(req: Request, ok: Set<Int>): JsonNode {
        val call = client.newCall(req)
        val (code, body) = suspendCancellableCoroutine { cont ->
            cont.invokeOnCancellation { call.cancel() }
            call.enqueue(object : Callback {
                override fun onFailure(call: Call, e: IOException) {
                    cont.resumeWithException(e)
                }

                override fun onResponse(call: Call, response: Response) {
                    // Read the body on OkHttp's dispatcher thread (it is the network read) and close the response.
                    val r = runCatching { response.use { it.code to it.body.bytes() } }
                    r.fold({ cont.resume(it) }, { cont.resumeWithException(it) })
                }
            })
        }
        val json = MAPPER.readTree(body)
        if (code !in ok) throw IllegalStateException("HTTP $code")
        return json
    }

    private fun get(url: okhttp3.HttpUrl, token: String): Request =
        Request.Builder().url(url).header("X-Api-Key", token).header("Accept", "application/json").get().build()

    override suspend fun validate(token: String) {
        if (!send(get(validateUrl, token), setOf(200))["isValid"].asBoolean()) throw IllegalStateException("token not valid")
    }

    override suspend fun flow() {
        // toRequestBody(JSON) sets `Content-Type: application/json; charset=utf-8`.
        val req = Request.Builder().url(createUrl)
            .header("X-Api-Key", spec["provisioningToken"].asText()).header("Accept", "application/json")
            .post(newClientJson(spec["partnerCode"].asText(), ids.businessCode()).toRequestBody(JSON))
            .build()
        val created = send(req, setOf(200, 201))["accessToken"].asText()
        validate(created)
        val renewed = send(get(renewUrl, created), setOf(200))["accessToken"].asText()
        validate(renewed)
    }

    override fun close() {
        client.dispatcher.executorService.shutdown()
        client.connectionPool.evictAll()
    }
}
