package com.confirmafinance.sdk

import com.sun.jna.Native
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong
import kotlin.coroutines.resume
import kotlin.coroutines.ContinuationInterceptor
import kotlinx.coroutines.CancellableContinuation
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.suspendCancellableCoroutine

/**
 * The hot calls' way back from the native runtime (the Rust side is `queue.rs`): a call is started with an id and
 * returns at once; when it finishes, the runtime queues its result, and one long-lived daemon thread
 * (`confirma-completions`) takes everything queued in one native call and resumes the waiting coroutines by id.
 * No native thread ever calls into the JVM, and a call needs one crossing to start plus its share of a batch.
 * Cancelling the coroutine cancels the native call by id (its request is dropped at once).
 */
internal object Completions {
    private val waiting = ConcurrentHashMap<Long, CancellableContinuation<NativeCompletion>>()
    private val ids = AtomicLong()

    init {
        Thread(::drain, "confirma-completions").apply {
            isDaemon = true
            start()
        }
    }

    private fun drain() {
        // The batch arrives through HotPath's C export into this direct buffer (no JNA structure per batch): a
        // validation's answer inline, anything else (a renewed token, an error) by id, taken with one uniffi call.
        val buf = ByteBuffer.allocateDirect(64 * 1024).order(ByteOrder.LITTLE_ENDIAN)
        while (true) {
            try {
                // Position 0 before the call: JNA passes a direct buffer's address at its current position.
                buf.clear()
                val n = HotPath.confirma_kt_drain(buf, buf.capacity(), 1000)
                buf.limit(n)
                while (buf.hasRemaining()) {
                    deliver(read(buf) ?: continue)
                }
            } catch (e: Throwable) {
                // Never expected (the exports cannot fail); keep serving rather than strand every caller.
                Thread.sleep(10)
            }
        }
    }

    /**
     * One completion record of `confirma_kt_drain`'s format at [buf]'s position: a validation's answer inline,
     * anything else taken by id with one uniffi call (`null`: nothing parked under that id).
     */
    private fun read(buf: ByteBuffer): NativeCompletion? {
        val kind = buf.get().toInt()
        val id = buf.getLong().toULong()
        return if (kind == 1) {
            val flags = buf.get().toInt()
            val text = ByteArray(buf.getShort().toInt() and 0xffff).also { buf.get(it) }
            NativeCompletion(id, TokenStatus(flags and 1 != 0, flags and 2 != 0, String(text, Charsets.UTF_8)), null, null)
        } else {
            nativeTakeCompletion(id)
        }
    }

    private fun deliver(c: NativeCompletion) {
        val waiter = waiting.remove(c.id.toLong())
        if (waiter == null) {
            // Its coroutine was cancelled as the call finished (it ends with CancelledInFlightException, the
            // outcome unknown, as the uniffi future's drop did): release the tokens it carried at once.
            release(c)
            return
        }
        if (resumeOnDrainer) {
            val d = waiter.context[ContinuationInterceptor] as? CoroutineDispatcher
            if (d != null) {
                @OptIn(ExperimentalCoroutinesApi::class)
                with(waiter) { d.resumeUndispatched(c) }
                return
            }
        }
        // Cancelled between here and its resumption: the same (the value never reaches the coroutine).
        waiter.resume(c) { release(c) }
    }

    /**
     * Diagnostics only, never the default (`-Dcom.confirmafinance.sdk.resumeOnDrainer=true`, for measuring the
     * dispatcher's hop): resume each coroutine on the drainer thread itself instead of through its dispatcher. Not
     * correct as a default: the caller's code would then run on the SDK's one drainer thread (outside its own
     * dispatcher, holding up every other completion while it runs).
     */
    @JvmField
    val resumeOnDrainer: Boolean = java.lang.Boolean.getBoolean("com.confirmafinance.sdk.resumeOnDrainer")

    /** Wipes the tokens of a completion nobody receives (their native memory, now rather than at GC). */
    private fun release(c: NativeCompletion) {
        c.renewed?.accessToken?.close()
        c.created?.accessToken?.close()
        c.error?.let { e -> e.recoveredToken?.close(); e.rawResponse?.close() }
    }

    /** A fresh call id (also for the blocking hot path's parked results). */
    fun nextId(): ULong = ids.incrementAndGet().toULong()

    /** Per thread: the buffer the blocking hot path writes a validation's message into. */
    val messageBuffer: ThreadLocal<ByteArray> = ThreadLocal.withInitial { ByteArray(256) }

    /**
     * How long (µs) a caller whose call is the only one in flight waits on its own call's slot before it suspends
     * (`confirma_kt_start_wait`): one wake-up instead of three at concurrency 1. Tried only while the last call
     * answered within this bound (never over a real network, where it would hold the thread for nothing). 0 turns it off. Diagnostics
     * property, not API: `-Dcom.confirmafinance.sdk.slotWaitMicros=…`.
     */
    @JvmField
    val slotWaitMicros: Int = Integer.getInteger("com.confirmafinance.sdk.slotWaitMicros", 1000)

    /** `confirma_kt_start_wait`: another caller waits on the slot, the call was not started. */
    const val SLOT_BUSY = -3

    /** Per thread: the direct buffer a slot wait's completion record is written into. */
    private val slotBuffer: ThreadLocal<ByteBuffer> =
        ThreadLocal.withInitial { ByteBuffer.allocateDirect(1024).order(ByteOrder.LITTLE_ENDIAN) }

    /** Starts a call with [start] (given the call's id) and suspends until its completion arrives. */
    suspend fun await(start: (ULong) -> Unit): NativeCompletion = suspendCancellableCoroutine { cont ->
        val id = ids.incrementAndGet()
        waiting[id] = cont
        try {
            start(id.toULong())
        } catch (e: Throwable) {
            waiting.remove(id)
            throw e
        }
        // After the start: a coroutine cancelled before it still cancels the call (the handler then runs at once).
        cont.invokeOnCancellation { if (waiting.remove(id) != null) nativeCancelCall(id.toULong()) }
    }

    /**
     * [await] for a call that [startWait] can start and wait for (`confirma_kt_start_wait`, given the call's id,
     * the record buffer and the bound): when no other call is in flight, the calling thread waits up to
     * [slotWaitMicros] on the call's own slot and the call completes without suspending; otherwise, or when it
     * takes longer, the coroutine suspends and the completion arrives through the drainer as usual.
     */
    suspend fun awaitOrWait(startWait: (Long, ByteBuffer, Int) -> Int, start: (ULong) -> Unit): NativeCompletion {
        // Only while calls answer within the bound (the sandbox, a server on the same host or LAN): over a real
        // network a call takes milliseconds, and waiting would only hold the caller's thread for nothing.
        if (slotWaitMicros <= 0 || !waiting.isEmpty() || lastCallNanos > slotWaitMicros * 1000L) {
            return timed { await(start) }
        }
        val started = System.nanoTime()
        val id = ids.incrementAndGet()
        val buf = slotBuffer.get()
        buf.clear()
        val n = startWait(id, buf, slotWaitMicros)
        // Another caller holds the slot: nothing was started (a completion must never find no continuation).
        if (n == SLOT_BUSY) return timed { await(start) }
        if (n > 0) {
            lastCallNanos = System.nanoTime() - started
            buf.limit(n)
            return read(buf) ?: throw ConfirmaException.internalError("the native call left no result", null)
        }
        val c = suspendCancellableCoroutine { cont ->
            waiting[id] = cont
            // A completion that reached the slot meanwhile moves to the queue now; later ones go there directly.
            HotPath.confirma_kt_unwait(id)
            cont.invokeOnCancellation { if (waiting.remove(id) != null) nativeCancelCall(id.toULong()) }
        }
        lastCallNanos = System.nanoTime() - started
        return c
    }

    /**
     * How long the last call through [awaitOrWait] took (ns), start to result; the slot wait is tried only while
     * it is within [slotWaitMicros]. A slow call turns the wait off, the next fast one back on.
     */
    @Volatile
    private var lastCallNanos: Long = 0

    private inline fun timed(call: () -> NativeCompletion): NativeCompletion {
        val started = System.nanoTime()
        val c = call()
        lastCallNanos = System.nanoTime() - started
        return c
    }
}

/** The completion's value (picked by [value]), or its error as the [ConfirmaException]. */
internal inline fun <T : Any> NativeCompletion.result(value: (NativeCompletion) -> T?): T {
    error?.let { throw ConfirmaException.of(it) }
    return value(this) ?: throw ConfirmaException.internalError("the native call completed without a result", null)
}

/**
 * The hot path's own C export (`queue.rs`, `confirma_kt_start`), directly mapped by JNA: a `long`, an `int`, a
 * `byte[]` and a `long` cross, and nothing is allocated on the Java side (uniffi's generated calls allocate a
 * `RustCallStatus` structure per crossing and a `RustBuffer` per string, each native memory with a Cleaner
 * reference). The String-token validate and renew start here; their result comes back through [Completions].
 */
internal object HotPath {
    const val VALIDATE = 0
    const val RENEW = 1

    /** `confirma_kt_create`'s form encodings. */
    private const val FORM_TYPED = 0
    private const val FORM_JSON = 1

    init {
        Native.register(
            HotPath::class.java,
            System.getProperty("uniffi.component.confirma.libraryOverride") ?: "confirma_kotlin",
        )
    }

    @Suppress("FunctionName")
    external fun confirma_kt_start(key: Long, op: Int, token: ByteArray, len: Int, id: Long)

    @Suppress("FunctionName")
    external fun confirma_kt_start_wait(key: Long, op: Int, tokenHandle: Long, token: ByteArray?, len: Int, id: Long, maxWaitUs: Int, buf: java.nio.Buffer, cap: Int): Int

    @Suppress("FunctionName")
    external fun confirma_kt_unwait(id: Long)

    @Suppress("FunctionName")
    external fun confirma_kt_start_object(key: Long, op: Int, token: Long, id: Long)

    @Suppress("FunctionName")
    external fun confirma_kt_create(key: Long, tokenHandle: Long, token: ByteArray?, len: Int, json: Int, form: ByteArray, formLen: Int, id: Long)

    @Suppress("FunctionName")
    external fun confirma_kt_drain(buf: java.nio.Buffer, cap: Int, maxWaitMs: Int): Int

    @Suppress("FunctionName")
    external fun confirma_kt_validate_blocking(key: Long, token: ByteArray, len: Int, id: Long, message: ByteArray, cap: Int): Int

    /**
     * Starts [op] of the client registered as [key] with [token] (UTF-8, from [tokenUtf8]) as call [id] (see
     * [Completions.await]). The native side copies the bytes during the call; the array is zeroed right after it.
     */
    fun start(key: Long, op: Int, token: ByteArray, id: ULong) =
        try {
            confirma_kt_start(key, op, token, token.size, id.toLong())
        } finally {
            token.fill(0)
        }

    /** Starts [op] with [token] (zeroed after the native copy) through [Completions.awaitOrWait]. */
    suspend fun call(key: Long, op: Int, token: ByteArray): NativeCompletion =
        Completions.awaitOrWait(
            { id, buf, us ->
                // Zeroed once started (SLOT_BUSY: not copied, the fallback start below copies and zeroes it).
                val r = try {
                    confirma_kt_start_wait(key, op, 0, token, token.size, id, us, buf, buf.capacity())
                } catch (e: Throwable) {
                    token.fill(0)
                    throw e
                }
                r.also { if (it != Completions.SLOT_BUSY) token.fill(0) }
            },
            { id -> start(key, op, token, id) },
        )

    /** [call] with a [SecretToken] (an owned clone of its handle crosses). */
    suspend fun call(key: Long, op: Int, token: SecretToken): NativeCompletion =
        Completions.awaitOrWait(
            { id, buf, us -> token.callWithHandle { h -> confirma_kt_start_wait(key, op, h, null, 0, id, us, buf, buf.capacity()) } },
            { id -> start(key, op, token, id) },
        )

    /** [start] with a [SecretToken]: an owned clone of its handle crosses (the native side takes it over). */
    fun start(key: Long, op: Int, token: SecretToken, id: ULong) =
        token.callWithHandle { handle -> confirma_kt_start_object(key, op, handle, id.toLong()) }

    /** `createClient` with [token]'s text (zeroed after the native copy) and [newClient] as call [id]. */
    fun create(key: Long, token: ByteArray, newClient: NewClient, id: ULong) =
        try {
            val form = typedForm(newClient)
            confirma_kt_create(key, 0, token, token.size, FORM_TYPED, form.array(), form.position(), id.toLong())
        } finally {
            token.fill(0)
        }

    /** `createClientFromJson` with [token]'s text (zeroed after the native copy) as call [id]. */
    fun createJson(key: Long, token: ByteArray, json: ByteArray, id: ULong) =
        try {
            confirma_kt_create(key, 0, token, token.size, FORM_JSON, json, json.size, id.toLong())
        } finally {
            token.fill(0)
        }

    /** `createClient` with a [SecretToken] (an owned clone of its handle crosses) and [newClient] as call [id]. */
    fun create(key: Long, token: SecretToken, newClient: NewClient, id: ULong) {
        val form = typedForm(newClient)
        token.callWithHandle { h -> confirma_kt_create(key, h, null, 0, FORM_TYPED, form.array(), form.position(), id.toLong()) }
    }

    /** `createClientFromJson` with a [SecretToken] as call [id]. */
    fun createJson(key: Long, token: SecretToken, json: ByteArray, id: ULong) =
        token.callWithHandle { h -> confirma_kt_create(key, h, null, 0, FORM_JSON, json, json.size, id.toLong()) }

    /**
     * The form as uniffi serialises a `NewClient` record (what its generated export would send in a `RustBuffer`),
     * into a heap buffer: the native side reads it with the same generated converter. A string that is not valid
     * Unicode throws `CharacterCodingException` here, as it does in the generated call ([translate] maps it).
     */
    private fun typedForm(newClient: NewClient): ByteBuffer =
        ByteBuffer.allocate(FfiConverterTypeNewClient.allocationSize(newClient).toInt())
            .also { FfiConverterTypeNewClient.write(newClient, it) }

    /** JSON text as strict UTF-8 (a lone surrogate: `CharacterCodingException`, as the generated string converter). */
    fun utf8(text: String): ByteArray = FfiConverterString.toUtf8(text).let { b -> ByteArray(b.remaining()).also { b.get(it) } }

    /**
     * `validateTokenBlocking(String)` on the calling thread: the answer crosses as an `int` and the message bytes
     * (no uniffi structure); an error or an unusually long message is parked natively and taken with one uniffi call.
     */
    fun validateBlocking(key: Long, token: ByteArray): TokenStatus {
        val buf = Completions.messageBuffer.get()
        val id = Completions.nextId()
        val r = try {
            confirma_kt_validate_blocking(key, token, token.size, id.toLong(), buf, buf.size)
        } finally {
            token.fill(0)
        }
        if (r >= 0) return TokenStatus(isValid = r and 1 != 0, expired = r and 2 != 0, message = String(buf, 0, r ushr 2, Charsets.UTF_8))
        val parked = nativeTakeCompletion(id)
            ?: throw ConfirmaException.internalError("the native call left no result", null)
        return parked.result { it.status }
    }
}
