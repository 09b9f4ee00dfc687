package com.confirmafinance.sdk

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
        while (true) {
            val batch = try {
                nativeDrainCompletions(1000u)
            } catch (e: Throwable) {
                // Never expected (the export cannot fail); keep serving rather than strand every caller.
                Thread.sleep(10)
                continue
            }
            for (c in batch) {
                val waiter = waiting.remove(c.id.toLong())
                if (waiter == null) {
                    // Its coroutine was cancelled as the call finished: release what it carried.
                    c.renewed?.accessToken?.close()
                    continue
                }
                waiter.resume(c)
            }
        }
    }

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
