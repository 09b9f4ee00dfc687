package com.confirmafinance.sdk

import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native

/**
 * The native runtime's worker threads, as the JVM sees them.
 *
 * A suspended call resumes when uniffi's continuation callback runs on the native (tokio) thread that finished
 * it. By default JNA attaches such a thread to the JVM for the callback (a new `java.lang.Thread`) and detaches it
 * again afterwards, on every call. Here the callback carries a [CallbackThreadInitializer]: the first callback on
 * a worker attaches it once, as a daemon thread named `confirma-worker` (so it never keeps the JVM alive), and it
 * stays attached; JNA detaches it when the native thread exits. JNA pops the callback's local frame after each
 * call, so staying attached keeps no Java objects alive.
 *
 * Must run before the callback's first use (JNA reads the initializer when it first makes the callback's native
 * stub): [translate], around every native call, touches this object first.
 *
 * Diagnostics only, for comparing the designs (bench/jvm/gc-profile.py): `-Dcom.confirmafinance.sdk.detachPerCall=true`
 * keeps JNA's default (attach and detach per call); `-Dcom.confirmafinance.sdk.noCompletionQueue=true` sends
 * validate and renew through uniffi's futures too instead of the completion queue ([Completions]).
 */
internal object NativeThreads {
    /** Whether the workers are attached once (the default). */
    @JvmField
    val attachedOnce: Boolean = !java.lang.Boolean.getBoolean("com.confirmafinance.sdk.detachPerCall")

    /** Whether validate and renew go through the completion queue (the default). */
    @JvmField
    val completionQueue: Boolean = !java.lang.Boolean.getBoolean("com.confirmafinance.sdk.noCompletionQueue")

    init {
        if (attachedOnce) {
            Native.setCallbackThreadInitializer(
                uniffiRustFutureContinuationCallbackImpl,
                CallbackThreadInitializer(true, false, "confirma-worker"),
            )
        }
    }

    /** Runs the setup above once (class initialisation); a no-op afterwards. */
    fun ensure() {}
}
