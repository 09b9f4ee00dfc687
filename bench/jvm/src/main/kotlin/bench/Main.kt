// JVM contestants of the benchmark harness (bench/harness.py).
//   java -cp ... bench.MainKt <name> '<spec json>'   -> one JSON line on stdout
// Names: jdk-httpclient (java.net.http.HttpClient, sendAsync awaited from coroutines, Jackson for JSON),
// okhttp (OkHttp, enqueue awaited from coroutines, Jackson for JSON; OkHttp.kt), confirma (the Kotlin binding's suspend
// functions) and confirma-blocking (its `…Blocking` functions, one platform thread per concurrent caller); the last
// two are compiled only with the Maven profile `sdk`, see src/sdk.
// The rss workload also reports the JVM's started-thread count (JNA attaches count as started threads) and, with
// spec "idleSec" / "diagnostics" (bench/jvm/gc-profile.py), the RSS after an idle period and jcmd's class histogram
// and native-memory summary.
package bench

import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.ObjectMapper
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.future.await
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.lang.management.ManagementFactory
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.Executors
import kotlinx.coroutines.asCoroutineDispatcher
import java.util.concurrent.atomic.AtomicLong

val MAPPER = ObjectMapper()
private val T_START = System.nanoTime()

/** What every JVM contestant does. */
interface Ops {
    /** Whether [validate]/[flow] block their thread (each concurrent caller then gets its own platform thread). */
    val blocking: Boolean get() = false
    val importMs: Double
    val newClientMs: Double
    suspend fun validate(token: String)
    suspend fun flow()
    fun close()
}

class Ids(base: Long) {
    private val n = AtomicLong(base)
    private val weights = intArrayOf(7, 9, 10, 5, 8, 4, 2)
    fun businessCode(): String {
        while (true) {
            val digits = String.format("%07d", n.getAndIncrement() % 10_000_000)
            val r = digits.indices.sumOf { (digits[it] - '0') * weights[it] } % 11
            if (r != 1) return "$digits-${if (r == 0) 0 else 11 - r}"
        }
    }
}

fun newClientJson(partner: String, code: String): String = MAPPER.writeValueAsString(
    mapOf(
        "service" to mapOf("type" to "LIFECYCLE", "partnerCode" to partner),
        "client" to mapOf(
            "name" to "Testiasiakas Oy", "businessCode" to code, "vatRegNbr" to "FI" + code.replace("-", ""),
            "postalAddress" to "Testikuja 7", "postalCode" to "00100", "postalDistrict" to "HELSINKI",
            "countryCode" to "FI", "email" to "laskutus@testiasiakas.fi", "languageCode" to "FI",
        ),
        "contacts" to listOf(mapOf("role" to "PRIMARY", "name" to "Maija Meikäläinen", "email" to "maija@testiasiakas.fi")),
    ),
)

class JdkOps(private val spec: JsonNode) : Ops {
    private val base = spec["baseUrl"].asText().trimEnd('/')
    private val ids = Ids(spec.path("idBase").asLong(0))
    private val validateUri = URI.create("$base/api/v1/partner/validate")
    private val renewUri = URI.create("$base/api/v1/partner/renew")
    private val createUri = URI.create("$base/api/v1/partner/client")
    override val importMs = 0.0
    private val client: HttpClient
    override val newClientMs: Double

    init {
        val t0 = System.nanoTime()
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
        newClientMs = (System.nanoTime() - t0) / 1e6
    }

    private suspend fun send(req: HttpRequest, ok: Set<Int>): JsonNode {
        val r = client.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()).await()
        val body = MAPPER.readTree(r.body())
        if (r.statusCode() !in ok) throw IllegalStateException("HTTP ${r.statusCode()}")
        return body
    }

    private fun get(uri: URI, token: String): HttpRequest =
        HttpRequest.newBuilder(uri).header("X-Api-Key", token).header("Accept", "application/json").GET().build()

    override suspend fun validate(token: String) {
        if (!send(get(validateUri, token), setOf(200))["isValid"].asBoolean()) throw IllegalStateException("token not valid")
    }

    override suspend fun flow() {
        val req = HttpRequest.newBuilder(createUri)
            .header("X-Api-Key", spec["provisioningToken"].asText()).header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(newClientJson(spec["partnerCode"].asText(), ids.businessCode())))
            .build()
        val created = send(req, setOf(200, 201))["accessToken"].asText()
        validate(created)
        val renewed = send(get(renewUri, created), setOf(200))["accessToken"].asText()
        validate(renewed)
    }

    override fun close() {}
}

fun rssKb(): Long =
    File("/proc/self/status").readLines().firstOrNull { it.startsWith("VmRSS:") }
        ?.split(Regex("\\s+"))?.get(1)?.toLong() ?: 0

/** jcmd on this JVM (the JDK's own tool next to java): its output, or the error. */
fun jcmd(vararg args: String): String = try {
    val bin = File(System.getProperty("java.home"), "bin/jcmd").takeIf { it.canExecute() }?.path ?: "jcmd"
    val p = ProcessBuilder(bin, ProcessHandle.current().pid().toString(), *args).redirectErrorStream(true).start()
    p.inputStream.bufferedReader().readText().also { p.waitFor() }
} catch (e: Exception) {
    "jcmd failed: $e"
}

/** Instances and bytes of the classes that matter for the JNA/Cleaner question, from `GC.class_histogram`. */
fun histogram(all: Boolean): Map<String, Any> {
    val wanted = listOf(
        "com.sun.jna.Memory", "com.sun.jna.internal.Cleaner\$CleanerRef", "com.sun.jna.internal.Cleaner\$Cleanable",
        "jdk.internal.ref.CleanerImpl\$PhantomCleanableRef", "java.lang.Thread", "com.sun.jna.CallbackReference",
        "com.confirmafinance.sdk.UniffiRustCallStatus", "com.confirmafinance.sdk.RustBuffer\$ByValue",
        "com.sun.jna.Memory\$MemoryDisposer", "com.sun.jna.Structure\$AutoAllocated",
    )
    val text = if (all) jcmd("GC.class_histogram", "-all") else jcmd("GC.class_histogram")
    val out = linkedMapOf<String, Any>()
    for (line in text.lines()) {
        val f = line.trim().split(Regex("\\s+"))
        if (f.size < 4 || !f[0].endsWith(":")) continue
        val cls = f[3]
        if (cls in wanted) out[cls] = mapOf("instances" to f[1].toLong(), "bytes" to f[2].toLong())
    }
    if (out.isEmpty()) out["raw"] = text.take(400)
    return out
}

/** The NMT summary's total and the lines of its largest categories (needs -XX:NativeMemoryTracking=summary). */
fun nmt(): Map<String, String> {
    val text = jcmd("VM.native_memory", "summary", "scale=KB")
    val out = linkedMapOf<String, String>()
    for (line in text.lines()) {
        val t = line.trim()
        val m = Regex("^(?:Total:\\s*|-\\s+([A-Za-z ]+?)\\s*\\()reserved=\\d+KB, committed=(\\d+)KB").find(t) ?: continue
        out[m.groupValues[1].ifEmpty { "Total" }.trim()] = "${m.groupValues[2]} KB committed"
    }
    if (out.isEmpty()) out["raw"] = text.take(400)
    return out
}

fun pct(l: LongArray, p: Double): Long = if (l.isEmpty()) 0 else l[Math.round((l.size - 1) * p).toInt()]

fun main(args: Array<String>) {
    val name = args[0]
    val spec = MAPPER.readTree(args[1])
    val ops: Ops = when (name) {
        "jdk-httpclient" -> JdkOps(spec)
        "okhttp" -> OkHttpOps(spec)
        "confirma", "confirma-blocking" -> Class.forName("bench.SdkOps")
            .getConstructor(JsonNode::class.java, Boolean::class.javaPrimitiveType).newInstance(spec, name == "confirma-blocking") as Ops
        else -> error("unknown contestant $name")
    }
    val token = spec["token"].asText()
    val conc = spec.path("concurrency").asInt(1)
    // A blocking contestant's callers each get a platform thread (as a Java service's request threads would).
    val callers = if (ops.blocking) Executors.newFixedThreadPool(conc) { r -> Thread(r).apply { isDaemon = true } }
        .asCoroutineDispatcher() else Dispatchers.Default
    val threads = ManagementFactory.getThreadMXBean()
    val out: Map<String, Any?> = runBlocking(Dispatchers.Default) {
        when (val wl = spec["workload"].asText()) {
            "first_call" -> {
                val t1 = System.nanoTime()
                val err = runCatching { ops.validate(token) }.exceptionOrNull()?.toString()
                val t2 = System.nanoTime()
                mapOf(
                    "import_ms" to ops.importMs, "new_client_ms" to ops.newClientMs, "first_call_ms" to (t2 - t1) / 1e6,
                    "process_to_first_result_ms" to (t2 - T_START) / 1e6, "error" to err,
                )
            }
            "rss" -> {
                suspend fun count(n: Long): Long {
                    val left = AtomicLong(n)
                    val errors = AtomicLong()
                    val jobs = (1..conc).map {
                        launch(callers) { while (left.getAndDecrement() > 0) runCatching { ops.validate(token) }.onFailure { errors.incrementAndGet() } }
                    }
                    jobs.forEach { it.join() }
                    return errors.get()
                }
                val calls = spec["calls"].asLong()
                val diagnostics = spec.path("diagnostics").asBoolean(false)
                val e1 = count(maxOf(calls / 10, 1000))
                System.gc(); Thread.sleep(200)
                val before = rssKb()
                val started0 = threads.totalStartedThreadCount
                val t0 = System.nanoTime()
                val e2 = count(calls)
                val callSec = (System.nanoTime() - t0) / 1e9
                val started = threads.totalStartedThreadCount - started0
                val garbage = if (diagnostics) histogram(all = true) else null // before any GC: what the calls left behind
                System.gc(); Thread.sleep(200)
                val after = rssKb()
                val r = linkedMapOf<String, Any?>(
                    "calls" to calls, "rss_before_kb" to before, "rss_after_kb" to after, "rss_growth_kb" to after - before,
                    "errors" to e1 + e2, "calls_per_sec" to calls / callSec, "jvm_threads_started" to started,
                    "jvm_threads_live" to threads.threadCount,
                )
                val idle = spec.path("idleSec").asDouble(0.0)
                if (idle > 0) {
                    Thread.sleep((idle * 1000).toLong())
                    r["rss_idle_kb"] = rssKb()
                    System.gc(); Thread.sleep(200)
                    r["rss_idle_gc_kb"] = rssKb()
                    r["rss_idle_growth_kb"] = (r["rss_idle_gc_kb"] as Long) - before
                }
                // A JFR recording started with -XX:StartFlightRecording (gc-profile.py --jfr): dumped here, as halt() below
                // skips the JVM's own dump at exit.
                spec.path("jfrDump").asText("").takeIf { it.isNotEmpty() }?.let { r["jfr_dump"] = jcmd("JFR.dump", "filename=$it").trim().takeLast(200) }
                if (diagnostics) {
                    r["histogram_after_calls_all"] = garbage
                    r["histogram_live"] = histogram(all = false)
                    r["nmt"] = nmt()
                }
                r
            }
            else -> {
                val isFlow = wl == "flow"
                val start = System.nanoTime()
                val measureFrom = start + (spec.path("warmupSec").asDouble(0.0) * 1e9).toLong()
                val end = measureFrom + (spec.path("durationSec").asDouble(1.0) * 1e9).toLong()
                val lats = ConcurrentLinkedQueue<LongArray>()
                val errors = AtomicLong()
                var firstError: String? = null
                val jobs = (1..conc).map {
                    launch(callers) {
                        var buf = LongArray(1 shl 14)
                        var n = 0
                        while (true) {
                            val t0 = System.nanoTime()
                            if (t0 >= end) break
                            try {
                                if (isFlow) ops.flow() else ops.validate(token)
                            } catch (e: Exception) {
                                errors.incrementAndGet()
                                if (firstError == null) firstError = e.toString()
                                delay(10)
                                continue
                            }
                            if (t0 >= measureFrom) {
                                if (n == buf.size) buf = buf.copyOf(n * 2)
                                buf[n++] = (System.nanoTime() - t0) / 1000
                            }
                        }
                        lats.add(buf.copyOf(n))
                    }
                }
                jobs.forEach { it.join() }
                val all = lats.flatMap { it.asList() }.toLongArray().also { it.sort() }
                val seconds = (maxOf(System.nanoTime(), end) - measureFrom) / 1e9
                mapOf(
                    "ops" to all.size, "seconds" to seconds, "rps" to all.size / seconds, "p50_us" to pct(all, 0.5),
                    "p99_us" to pct(all, 0.99), "errors" to errors.get(), "first_error" to firstError,
                )
            }
        }
    }
    ops.close()
    println(MAPPER.writeValueAsString(out))
    System.out.flush()
    Runtime.getRuntime().halt(0)
}
