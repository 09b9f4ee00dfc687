package com.confirmafinance.sdk

import com.sun.jna.Native
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicLong
import kotlin.coroutines.resume
import kotlinx.coroutines.CancellableContinuation
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
                    val kind = buf.get().toInt()
                    val id = buf.getLong().toULong()
                    val c = if (kind == 1) {
                        val flags = buf.get().toInt()
                        val text = ByteArray(buf.getShort().toInt() and 0xffff).also { buf.get(it) }
                        NativeCompletion(id, TokenStatus(flags and 1 != 0, flags and 2 != 0, String(text, Charsets.UTF_8)), null, null)
                    } else {
                        nativeTakeCompletion(id) ?: continue
                    }
                    deliver(c)
                }
            } catch (e: Throwable) {
                // Never expected (the exports cannot fail); keep serving rather than strand every caller.
                Thread.sleep(10)
            }
        }
    }

    private fun deliver(c: NativeCompletion) {
        val waiter = waiting.remove(c.id.toLong())
        if (waiter == null) {
            // Its coroutine was cancelled as the call finished: release what it carried.
            c.renewed?.accessToken?.close()
            return
        }
        waiter.resume(c)
    }

    /** A fresh call id (also for the blocking hot path's parked results). */
    fun nextId(): ULong = ids.incrementAndGet().toULong()

    /** Per thread: the buffer the blocking hot path writes a validation's message into. */
    val messageBuffer: ThreadLocal<ByteArray> = ThreadLocal.withInitial { ByteArray(256) }

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

    init {
        Native.register(
            HotPath::class.java,
            System.getProperty("uniffi.component.confirma.libraryOverride") ?: "confirma_kotlin",
        )
    }

    @Suppress("FunctionName")
    external fun confirma_kt_start(key: Long, op: Int, token: ByteArray, len: Int, id: Long)

    @Suppress("FunctionName")
    external fun confirma_kt_drain(buf: java.nio.Buffer, cap: Int, maxWaitMs: Int): Int

    @Suppress("FunctionName")
    external fun confirma_kt_validate_blocking(key: Long, token: ByteArray, len: Int, id: Long, message: ByteArray, cap: Int): Int

    /** Starts [op] of the client registered as [key] with [token] as call [id] (see [Completions.await]). */
    fun start(key: Long, op: Int, token: ByteArray, id: ULong) = confirma_kt_start(key, op, token, token.size, id.toLong())

    /**
     * `validateTokenBlocking(String)` on the calling thread: the answer crosses as an `int` and the message bytes
     * (no uniffi structure); an error or an unusually long message is parked natively and taken with one uniffi call.
     */
    fun validateBlocking(key: Long, token: ByteArray): TokenStatus {
        val buf = Completions.messageBuffer.get()
        val id = Completions.nextId()
        val r = confirma_kt_validate_blocking(key, token, token.size, id.toLong(), buf, buf.size)
        if (r >= 0) return TokenStatus(isValid = r and 1 != 0, expired = r and 2 != 0, message = String(buf, 0, r ushr 2, Charsets.UTF_8))
        val parked = nativeTakeCompletion(id)
            ?: throw ConfirmaException.internalError("the native call left no result", null)
        return parked.result { it.status }
    }
}
