package com.confirmafinance.sdk

import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native

/**
 * Keeps the native runtime's threads attached to the JVM.
 *
 * Every async SDK call finishes on one of the native (tokio) worker threads, which wakes the waiting
 * coroutine through uniffi's future-continuation callback. By default JNA attaches the calling native
 * thread to the JVM for that one callback and detaches it afterwards, so every call paid a JVM thread
 * attach + detach (a new `java.lang.Thread` each time) — about a third of a millisecond per call and the
 * main cost of the binding under load. Registered once, before the first call: native threads that call
 * back stay attached (as daemon threads named `confirma-worker`, so they never keep the JVM from exiting;
 * JNA detaches a thread when it exits).
 *
 * uniffi generates one callback object for this crate's async calls ([uniffiRustFutureContinuationCallbackImpl]);
 * the crate exports no callback interfaces and no foreign futures, so there is nothing else to register.
 */
internal object NativeThreads {
    init {
        Native.setCallbackThreadInitializer(
            uniffiRustFutureContinuationCallbackImpl,
            CallbackThreadInitializer(/* daemon = */ true, /* detach = */ false, "confirma-worker"),
        )
    }

    /** Runs the registration (once, on first use; thread-safe through class initialization). */
    fun ensureRegistered() = Unit
}
