package example

import com.confirmafinance.sdk.ClientConfig
import com.confirmafinance.sdk.ClientDetails
import com.confirmafinance.sdk.ConfirmaException
import com.confirmafinance.sdk.Contact
import com.confirmafinance.sdk.ContactRole
import com.confirmafinance.sdk.CredentialStore
import com.confirmafinance.sdk.Health
import com.confirmafinance.sdk.NewClient
import com.confirmafinance.sdk.OnboardingClient
import com.confirmafinance.sdk.Service
import com.confirmafinance.sdk.ServiceType
import com.confirmafinance.sdk.TokenManager
import com.confirmafinance.sdk.TokenManagerOptions
import com.confirmafinance.sdk.id
import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.Executors
import kotlin.system.exitProcess
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking

/**
 * A small service that keeps its clients' CFIS access tokens alive with a `TokenManager`:
 *  - at start-up it opens the credential store (SQLite, the key from CONFIRMA_STORE_KEY), creates a demo client into
 *    it if it is empty, and validates every stored credential (`manager.token(...)` loads, reconciles and validates);
 *    a lost credential stops the start-up, loudly;
 *  - it serves `GET /clients/{clientId}/check` (calls CFIS with `manager.token(clientId)`: from memory on the hot
 *    path) and `GET /health` (every credential's status), on the JDK's own HTTP server;
 *  - renewal is the manager's (`renewEvery`, jittered and persisted): until the planned time every request is served
 *    from memory; the first request after it renews (or adopts another instance's renewal) before it is served;
 *    the events (fingerprints only) are logged.
 *
 * Environment: CFIS_BASE_URL (the sandbox's http://127.0.0.1:PORT; unset = staging), CFIS_PROVISIONING_TOKEN,
 * CFIS_PARTNER_CODE, CONFIRMA_STORE_KEY (base64 of 32 bytes), STORE_PATH (./confirma-credentials.db), PORT (8088),
 * RENEW_EVERY_SECONDS (86400). Argument `self-test`: port 0, a few requests to itself around a renewal, then exit 0.
 */
fun main(args: Array<String>) {
    val selfTest = args.any { it.removePrefix("--") == "self-test" }
    val baseUrl = System.getenv("CFIS_BASE_URL")?.takeIf { it.isNotBlank() }
    val renewEvery = (System.getenv("RENEW_EVERY_SECONDS")?.toLongOrNull() ?: 86_400L).seconds
    val storePath = System.getenv("STORE_PATH") ?: "./confirma-credentials.db"
    val port = if (selfTest) 0 else System.getenv("PORT")?.toIntOrNull() ?: 8088

    val client = OnboardingClient(ClientConfig(baseUrl = baseUrl, userAgentSuffix = "lifecycle-service-example/0.1"))
    val store = try {
        CredentialStore.sqlite(storePath) // key = CONFIRMA_STORE_KEY
    } catch (e: ConfirmaException.Storage) {
        System.err.println("cannot open the credential store: ${e.message}")
        exitProcess(2)
    }
    val manager = TokenManager(client, store, TokenManagerOptions(renewEvery = renewEvery))
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    scope.launch { manager.events.collect { e -> println("event ${e.kind.id} client=${e.clientId} v${e.tokenVersion} ${e.fingerprint} ${e.detail}") } }
    println("lifecycle service: $manager")

    // ---- start-up: make sure there is something to manage, then validate every credential ----
    runBlocking {
        if (manager.statuses().none { !it.clientId.startsWith("pending-create:") }) {
            val pt = System.getenv("CFIS_PROVISIONING_TOKEN")?.takeIf { it.isNotBlank() }
            val partner = System.getenv("CFIS_PARTNER_CODE")?.takeIf { it.isNotBlank() }
            if (pt == null || partner == null) {
                System.err.println("the store is empty: set CFIS_PROVISIONING_TOKEN and CFIS_PARTNER_CODE to create a demo client")
                exitProcess(64)
            }
            val created = client.createClient(pt, demoClient(partner), store = store) // committed before it returns
            println("created client ${created.clientId} (${created.customerCode}); its credentials are in ${store.description}")
        }
        for (s in manager.statuses().filter { !it.clientId.startsWith("pending-create:") }) {
            try {
                manager.token(s.clientId) // first use: load, reconcile, validate
                val now = manager.status(s.clientId)
                println("client ${s.clientId}: ${now.state.id}/${now.health.id} v${now.tokenVersion} ${now.fingerprint}, next renewal ${now.nextRenewAt}")
            } catch (e: ConfirmaException.CredentialsLost) {
                System.err.println("client ${s.clientId}: CREDENTIALS LOST — ${e.message}")
                exitProcess(3)
            }
        }
    }

    // ---- serving ----
    val server = HttpServer.create(InetSocketAddress("127.0.0.1", port), 0)
    server.executor = Executors.newFixedThreadPool(4)
    server.createContext("/health") { ex ->
        val statuses = manager.statusesBlocking()
        val body = statuses.joinToString(",", "[", "]") {
            """{"clientId":"${it.clientId}","state":"${it.state.id}","health":"${it.health.id}","tokenVersion":${it.tokenVersion},"fingerprint":"${it.fingerprint}"}"""
        }
        ex.reply(if (statuses.all { it.health != Health.LOST }) 200 else 503, body)
    }
    server.createContext("/clients/") { ex ->
        val id = ex.requestURI.path.removePrefix("/clients/").removeSuffix("/check")
        try {
            val token = manager.tokenBlocking(id) // memory on the hot path; renewed first when due
            val valid = client.validateTokenBlocking(token).isValid // stands in for the real CFIS call
            ex.reply(200, """{"clientId":"$id","tokenValid":$valid}""")
        } catch (e: ConfirmaException.Configuration) {
            ex.reply(404, """{"error":"unknown client"}""")
        } catch (e: ConfirmaException) {
            ex.reply(503, """{"error":"${e.code}"}""") // never a token in a message
        }
    }
    server.start()
    val address = "http://127.0.0.1:${server.address.port}"
    println("serving on $address")

    if (!selfTest) {
        Runtime.getRuntime().addShutdownHook(Thread { server.stop(1); manager.close(); store.close(); client.close() })
        return
    }
    // ---- --self-test: requests around a rotation; every one answered with a working token ----
    val ok = runBlocking {
        val http = HttpClient.newHttpClient()
        fun get(path: String) = http.send(HttpRequest.newBuilder(URI.create(address + path)).build(), HttpResponse.BodyHandlers.ofString())
        val id = manager.statuses().first { !it.clientId.startsWith("pending-create:") }.clientId
        val before = manager.status(id).tokenVersion
        val answers = mutableListOf<Int>()
        repeat(3) { answers += get("/clients/$id/check").statusCode() }
        manager.renewNow(id) // what the first request after the planned renewal time does
        repeat(3) { answers += get("/clients/$id/check").statusCode() }
        val health = get("/health")
        val after = manager.status(id).tokenVersion
        println("self-test: answers $answers, token version $before -> $after, health ${health.statusCode()} ${health.body()}")
        answers.all { it == 200 } && after == before + 1 && health.statusCode() == 200 &&
            get("/clients/$id/check").body().contains("\"tokenValid\":true")
    }
    server.stop(0)
    (server.executor as java.util.concurrent.ExecutorService).shutdown()
    scope.cancel()
    manager.close()
    store.close()
    client.close()
    println(if (ok) "self-test: ok" else "self-test: FAILED")
    exitProcess(if (ok) 0 else 1)
}

private fun HttpExchange.reply(status: Int, json: String) {
    val bytes = json.toByteArray()
    responseHeaders.add("Content-Type", "application/json")
    sendResponseHeaders(status, bytes.size.toLong())
    responseBody.use { it.write(bytes) }
}

/** A demo client with a random valid Finnish Business ID. */
private fun demoClient(partnerCode: String): NewClient {
    val id = generateSequence { (1_000_000..9_999_999).random().toString() }
        .map { d -> d to d.mapIndexed { i, c -> (c - '0') * intArrayOf(7, 9, 10, 5, 8, 4, 2)[i] }.sum() % 11 }
        .first { it.second != 1 }
        .let { (d, r) -> "$d-${if (r == 0) 0 else 11 - r}" }
    return NewClient(
        service = Service(serviceType = ServiceType.LIFECYCLE, partnerCode = partnerCode),
        client = ClientDetails(
            name = "Palvelu Oy", businessCode = id, vatRegNbr = "FI" + id.replace("-", ""),
            postalAddress = "Testikuja 7", postalCode = "00100", postalDistrict = "HELSINKI", countryCode = "FI",
            email = "laskutus@palvelu.fi", languageCode = "FI",
        ),
        contacts = listOf(Contact(role = ContactRole.PRIMARY, name = "Maija Meikäläinen", email = "maija@palvelu.fi")),
    )
}
