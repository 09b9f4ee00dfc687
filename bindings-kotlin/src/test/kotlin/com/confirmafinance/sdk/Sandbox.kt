package com.confirmafinance.sdk

import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.time.Duration
import java.util.concurrent.TimeUnit
import org.json.JSONObject

/** The repository root (set by Maven as confirma.repoRoot; falls back to the working directory's parent). */
val repoRoot: File = File(System.getProperty("confirma.repoRoot") ?: "..").canonicalFile

/**
 * A real `confirma-sandbox` process on a free loopback port. Found through env `CONFIRMA_SANDBOX_BIN`, else
 * `<repo>/target/x86_64-unknown-linux-gnu/debug/confirma-sandbox`.
 */
class Sandbox private constructor(
    private val process: Process,
    val baseUrl: String,
    val provisioningToken: String,
    val partnerCode: String,
) : AutoCloseable {
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()

    fun reset() = admin("POST", "/_sandbox/reset", "{}")
    fun config(json: String) = admin("POST", "/_sandbox/config", json)
    fun fault(json: String) = admin("POST", "/_sandbox/faults", json)
    fun clearFaults() = admin("DELETE", "/_sandbox/faults", null)
    fun advanceClock(seconds: Long) = admin("POST", "/_sandbox/clock", """{"advanceSeconds":$seconds}""")
    fun state(): JSONObject = JSONObject(admin("GET", "/_sandbox/state", null))

    fun admin(method: String, path: String, body: String?): String {
        val b = HttpRequest.newBuilder(URI.create(baseUrl.trimEnd('/') + path)).timeout(Duration.ofSeconds(10))
        val req = when {
            body != null -> b.method(method, HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json")
            else -> b.method(method, HttpRequest.BodyPublishers.noBody())
        }.build()
        val resp = http.send(req, HttpResponse.BodyHandlers.ofString())
        check(resp.statusCode() in 200..299) { "sandbox admin $method $path answered ${resp.statusCode()}: ${resp.body()}" }
        return resp.body()
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor()
    }

    companion object {
        fun binary(): File {
            val env = System.getenv("CONFIRMA_SANDBOX_BIN")?.takeIf { it.isNotBlank() }
            val f = if (env != null) File(env) else File(repoRoot, "target/x86_64-unknown-linux-gnu/debug/confirma-sandbox")
            check(f.canExecute()) { "sandbox binary not found at $f (build it with cargo build -p confirma-sandbox --target x86_64-unknown-linux-gnu, or set CONFIRMA_SANDBOX_BIN)" }
            return f
        }

        fun start(): Sandbox {
            val p = ProcessBuilder(binary().path, "--host", "127.0.0.1", "--port", "0")
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start()
            val reader = BufferedReader(InputStreamReader(p.inputStream))
            val line = reader.readLine() ?: run { p.destroyForcibly(); error("the sandbox exited without printing its JSON line") }
            // Keep draining stdout so the sandbox never blocks on a full pipe.
            Thread({ try { while (reader.readLine() != null) { } } catch (_: Exception) { } }, "sandbox-stdout").apply { isDaemon = true }.start()
            val j = JSONObject(line)
            return Sandbox(p, j.getString("baseUrl"), j.getString("provisioningToken"), j.getString("partnerCode"))
        }
    }
}

/** Valid Finnish Business IDs (7 digits + check digit), different for every seed. */
fun businessId(seed: Int): String {
    var n = seed
    while (true) {
        val digits = (1_000_000 + (n % 8_999_999)).toString()
        val w = intArrayOf(7, 9, 10, 5, 8, 4, 2)
        val r = digits.mapIndexed { i, c -> (c - '0') * w[i] }.sum() % 11
        if (r != 1) return "$digits-${if (r == 0) 0 else 11 - r}"
        n += 7_919
    }
}

fun vatOf(businessId: String) = "FI" + businessId.replace("-", "")

/** A valid new client built from the data classes. */
fun sampleClient(partnerCode: String, seed: Int): NewClient {
    val id = businessId(seed)
    return NewClient(
        service = Service(serviceType = ServiceType.LIFECYCLE, partnerCode = partnerCode),
        client = ClientDetails(
            name = "Testiasiakas $seed Oy", businessCode = id, vatRegNbr = vatOf(id),
            postalAddress = "Testikuja 7", postalCode = "00100", postalDistrict = "HELSINKI",
            countryCode = "FI", email = "laskutus$seed@testiasiakas.fi", languageCode = "FI",
            website = "https://www.testiasiakas.fi",
        ),
        contacts = listOf(
            Contact(role = ContactRole.PRIMARY, name = "Maija Meikäläinen", email = "maija@testiasiakas.fi", telephone = "+358 40 123 4567"),
            Contact(role = ContactRole.TECHNICAL, name = "Teemu Teknikko", email = "teemu@testiasiakas.fi"),
        ),
    )
}
