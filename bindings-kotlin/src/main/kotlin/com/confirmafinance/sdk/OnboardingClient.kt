package com.confirmafinance.sdk

import java.nio.CharBuffer
import java.nio.charset.CodingErrorAction
import java.util.concurrent.CompletableFuture
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.cancel
import kotlinx.coroutines.future.future
import kotlinx.coroutines.runBlocking

/**
 * The CFIS onboarding client: create a client with the Partner Provisioning Token, validate an access
 * token, renew it.
 *
 * ```kotlin
 * OnboardingClient(ClientConfig(environment = Environment.STAGING)).use { cfis ->
 *     val created = cfis.createClient(provisioningToken, newClient)
 *     db.save(created.clientId, created.accessToken.reveal())
 *     val status = cfis.validateToken(created.accessToken)
 * }
 * ```
 *
 * The `suspend` functions never block a thread and are cancellable: cancelling the coroutine cancels the
 * HTTP request. Java callers and plain scripts use the `...Blocking` variants or the `...Async` variants
 * (which return a [CompletableFuture]; cancelling the future cancels the request).
 *
 * Thread-safe; share one instance (it holds a connection pool). Every call runs on one process-wide
 * native runtime. [close] releases the native client; calls after it throw [IllegalStateException].
 *
 * @throws ConfirmaException.Configuration from the constructor on a bad base URL, proxy or certificate.
 */
class OnboardingClient internal constructor(
    /** The configuration this client was built from. */
    val config: ClientConfig,
    nativeConfig: NativeClientConfig,
) : AutoCloseable {

    /** A client built from [config]. */
    @JvmOverloads
    constructor(config: ClientConfig = ClientConfig()) : this(config, config.toNative())

    private val native: NativeClient = translate("config") { NativeClient(nativeConfig) }

    /** This client's key for the hot path's C export ([HotPath]). */
    private val hotKey: Long = translate { nativeHotRegister(native).toLong() }
    private val closed = AtomicBoolean(false)
    private val asyncScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** The resolved base URL (ends with `/`). */
    val baseUrl: String get() = translate { live().baseUrl() }

    /** The `User-Agent` sent with every request. */
    val userAgent: String get() = translate { live().userAgent() }

    /**
     * Creates a client account with the Partner Provisioning Token and returns its identifiers and first
     * access token. Validated locally first (every problem at once, as [ConfirmaException.Validation]).
     * Never repeated once the request may have reached the service: such a failure is
     * [ConfirmaException.OutcomeUnknown]. [ConfirmaException.Conflict] means the client exists.
     */
    suspend fun createClient(provisioningToken: SecretToken, newClient: NewClient): CreatedClient =
        mutating(Operation.CREATE_CLIENT) {
            translate("newClient") {
                if (NativeThreads.completionQueue) {
                    val key = hot()
                    Completions.await { id -> HotPath.create(key, provisioningToken, newClient, id) }.result { it.created }
                } else {
                    live().createClient(provisioningToken, newClient)
                }
            }
        }

    /** [createClient] with a raw provisioning token. */
    suspend fun createClient(provisioningToken: String, newClient: NewClient): CreatedClient =
        mutating(Operation.CREATE_CLIENT) {
            translate("newClient") {
                if (NativeThreads.completionQueue) {
                    val key = hot()
                    val text = tokenUtf8(provisioningToken)
                    Completions.await { id -> HotPath.create(key, text, newClient, id) }.result { it.created }
                } else {
                    live().createClientText(provisioningToken, newClient)
                }
            }
        }

    /**
     * Creates a client and commits its credentials to [store] before returning (the core's
     * `TokenManager::create_client` with the default options): a pending-create record is written durably before
     * the request is sent, so a create whose outcome is unknown is resolved by the next create of that business
     * code — never a second client, never a lost token. Cancelling the coroutine only stops waiting: the create
     * completes and its credentials are committed. Serve the token afterwards with a [TokenManager] on [store].
     */
    suspend fun createClient(provisioningToken: SecretToken, newClient: NewClient, store: CredentialStore): CreatedClient =
        translate("newClient") { nativeCreateClientStored(live(), store.live(), provisioningToken, newClient) }

    /** [createClient] into [store] with a raw provisioning token. */
    suspend fun createClient(provisioningToken: String, newClient: NewClient, store: CredentialStore): CreatedClient =
        withToken(provisioningToken) { createClient(it, newClient, store) }

    /**
     * [createClient] from JSON shaped like the API contract (`{"service": {...}, "client": {...},
     * "contacts": [...]}`, camelCase or snake_case keys). Structural problems (a number where a string
     * belongs, an unknown role) are reported as [ConfirmaException.Validation] with field paths.
     */
    suspend fun createClientFromJson(provisioningToken: SecretToken, newClientJson: String): CreatedClient =
        mutating(Operation.CREATE_CLIENT) {
            translate("newClient") {
                if (NativeThreads.completionQueue) {
                    val key = hot()
                    val json = HotPath.utf8(newClientJson)
                    Completions.await { id -> HotPath.createJson(key, provisioningToken, json, id) }.result { it.created }
                } else {
                    live().createClientJson(provisioningToken, newClientJson)
                }
            }
        }

    /** [createClientFromJson] with a raw provisioning token. */
    suspend fun createClientFromJson(provisioningToken: String, newClientJson: String): CreatedClient =
        mutating(Operation.CREATE_CLIENT) {
            translate("newClient") {
                if (NativeThreads.completionQueue) {
                    val text = tokenUtf8(provisioningToken)
                    val json = try {
                        HotPath.utf8(newClientJson)
                    } catch (e: Throwable) {
                        text.fill(0)
                        throw e
                    }
                    val key = hot()
                    Completions.await { id -> HotPath.createJson(key, text, json, id) }.result { it.created }
                } else {
                    live().createClientJsonText(provisioningToken, newClientJson)
                }
            }
        }

    /**
     * Checks whether an access token is valid. An unknown or expired token is not an error: the result
     * says `isValid = false` (and `expired` for an expired one). Retried on transient failures.
     */
    suspend fun validateToken(token: SecretToken): TokenStatus = translate("token") {
        if (NativeThreads.completionQueue) {
            val key = hot()
            HotPath.call(key, HotPath.VALIDATE, token).result { it.status }
        } else {
            live().validateToken(token)
        }
    }

    /** [validateToken] with a raw token. */
    suspend fun validateToken(token: String): TokenStatus = translate("token") {
        if (NativeThreads.completionQueue) {
            val key = hot()
            val text = tokenUtf8(token)
            HotPath.call(key, HotPath.VALIDATE, text).result { it.status }
        } else {
            live().validateTokenText(token)
        }
    }

    /**
     * Renews an access token (also an expired one); the old token stops working. Never repeated once the
     * request may have reached the service (a lost answer would otherwise rotate the token twice): such a
     * failure is [ConfirmaException.OutcomeUnknown].
     */
    suspend fun renewToken(token: SecretToken): RenewedToken =
        mutating(Operation.RENEW_TOKEN) {
            translate("token") {
                if (NativeThreads.completionQueue) {
                    val key = hot()
                    HotPath.call(key, HotPath.RENEW, token).result { it.renewed }
                } else {
                    live().renewToken(token)
                }
            }
        }

    /** [renewToken] with a raw token. */
    suspend fun renewToken(token: String): RenewedToken =
        mutating(Operation.RENEW_TOKEN) {
            translate("token") {
                if (NativeThreads.completionQueue) {
                    val key = hot()
                    val text = tokenUtf8(token)
                    HotPath.call(key, HotPath.RENEW, text).result { it.renewed }
                } else {
                    live().renewTokenText(token)
                }
            }
        }

    /** Parses and validates JSON shaped like the API contract into a [NewClient], with this client's validation mode. */
    fun parseNewClient(json: String): NewClient = NewClient.fromJson(json, config.validation, config.language)

    // ---- blocking variants (Java, scripts) ----
    // Synchronous native calls: the request runs to completion on the calling thread (no coroutine, no runtime
    // worker in between). Interrupting the thread does not stop it; the configured timeouts bound it.

    /** Blocking [createClient]. */
    @Throws(ConfirmaException::class)
    fun createClientBlocking(provisioningToken: SecretToken, newClient: NewClient): CreatedClient =
        translate("newClient") { live().createClientBlocking(provisioningToken, newClient) }

    /** Blocking [createClient]. */
    @Throws(ConfirmaException::class)
    fun createClientBlocking(provisioningToken: String, newClient: NewClient): CreatedClient =
        translate("newClient") { live().createClientTextBlocking(provisioningToken, newClient) }

    /** Blocking [createClient] into [store]. */
    @Throws(ConfirmaException::class)
    fun createClientBlocking(provisioningToken: SecretToken, newClient: NewClient, store: CredentialStore): CreatedClient =
        runBlocking { createClient(provisioningToken, newClient, store) }

    /** Blocking [createClient] into [store]. */
    @Throws(ConfirmaException::class)
    fun createClientBlocking(provisioningToken: String, newClient: NewClient, store: CredentialStore): CreatedClient =
        runBlocking { createClient(provisioningToken, newClient, store) }

    /** Blocking [createClientFromJson]. */
    @Throws(ConfirmaException::class)
    fun createClientFromJsonBlocking(provisioningToken: SecretToken, newClientJson: String): CreatedClient =
        translate("newClient") { live().createClientJsonBlocking(provisioningToken, newClientJson) }

    /** Blocking [validateToken]. */
    @Throws(ConfirmaException::class)
    fun validateTokenBlocking(token: SecretToken): TokenStatus = translate("token") { live().validateTokenBlocking(token) }

    /** Blocking [validateToken]. */
    @Throws(ConfirmaException::class)
    fun validateTokenBlocking(token: String): TokenStatus = translate("token") {
        if (NativeThreads.completionQueue) HotPath.validateBlocking(hot(), tokenUtf8(token)) else live().validateTokenTextBlocking(token)
    }

    /** Blocking [renewToken]. */
    @Throws(ConfirmaException::class)
    fun renewTokenBlocking(token: SecretToken): RenewedToken = translate("token") { live().renewTokenBlocking(token) }

    /** Blocking [renewToken]. */
    @Throws(ConfirmaException::class)
    fun renewTokenBlocking(token: String): RenewedToken = translate("token") { live().renewTokenTextBlocking(token) }

    // ---- CompletableFuture variants (Java) ----

    /** [createClient] as a [CompletableFuture]; cancelling it cancels the request. */
    fun createClientAsync(provisioningToken: SecretToken, newClient: NewClient): CompletableFuture<CreatedClient> =
        asyncScope.future { createClient(provisioningToken, newClient) }

    /** [validateToken] as a [CompletableFuture]; cancelling it cancels the request. */
    fun validateTokenAsync(token: SecretToken): CompletableFuture<TokenStatus> =
        asyncScope.future { validateToken(token) }

    /** [renewToken] as a [CompletableFuture]; cancelling it cancels the request. */
    fun renewTokenAsync(token: SecretToken): CompletableFuture<RenewedToken> =
        asyncScope.future { renewToken(token) }

    /** Releases the native client (calls still running finish first). Idempotent. */
    override fun close() {
        if (closed.compareAndSet(false, true)) {
            asyncScope.cancel()
            nativeHotUnregister(hotKey.toULong())
            native.close()
        }
    }

    override fun toString(): String = "OnboardingClient(baseUrl=${if (closed.get()) "<closed>" else baseUrl})"

    /** The effective configuration as the core describes it (`confirma::ffi::describe_config`, JSON): for the SDK's own tests. */
    internal fun describeConfig(): String = translate { live().describeConfig() }

    /** The native client, for a [TokenManager] (which keeps its own reference to the core's client). */
    internal fun nativeClient(): NativeClient = live()

    /** [hotKey], once [live] says this client is open. */
    private fun hot(): Long {
        live()
        return hotKey
    }

    private fun live(): NativeClient {
        check(!closed.get()) { "this OnboardingClient is closed" }
        return native
    }

    companion object {
        /** The version of the native SDK core. */
        @JvmStatic
        val sdkVersion: String get() = nativeSdkVersion()

        /**
         * How many SDK calls are running on the native runtime right now (diagnostics: a cancelled call
         * leaves this count as soon as its request is dropped).
         */
        @JvmStatic
        fun activeNativeCalls(): Long = nativeActiveCalls().toLong()
    }
}

/**
 * Parses and validates JSON shaped like the API contract (camelCase or snake_case keys) into a
 * [NewClient]. Every problem is reported at once as [ConfirmaException.Validation] with field paths.
 */
fun NewClient.Companion.fromJson(json: String, validation: ValidationMode = ValidationMode.STRICT): NewClient =
    translate("newClient") { nativeParseNewClient(json, validation, null) }

/** [fromJson] with the end-user [language] (`fi`, `sv`, `en`) of the error's [ConfirmaException.Validation.issues]. */
fun NewClient.Companion.fromJson(json: String, validation: ValidationMode, language: String): NewClient =
    translate("newClient") { nativeParseNewClient(json, validation, language) }

/**
 * Runs a native call, turning its errors into [ConfirmaException]s: the native error; a panic uniffi contained
 * (its `InternalException`, e.g. an argument that failed to convert) as [ConfirmaException.Internal]; a string
 * argument that is not valid Unicode (the generated code refuses to encode a lone surrogate) as
 * [ConfirmaException.Validation] on [field].
 */
internal inline fun <T> translate(field: String = "input", block: () -> T): T =
    try {
        NativeThreads.ensure() // the worker threads' JNA setup, before any native call (a no-op after the first)
        block()
    } catch (e: NativeException) {
        throw ConfirmaException.from(e)
    } catch (e: InternalException) {
        throw ConfirmaException.internalError(e.message ?: "the native library failed", e)
    } catch (e: java.nio.charset.CharacterCodingException) {
        throw ConfirmaException.notUnicode(field)
    }

/**
 * A create or renew whose coroutine is cancelled while the native call runs ends with
 * [CancelledInFlightException] (a `CancellationException`, so structured concurrency is unchanged) instead of a
 * bare cancellation: the request may have reached the service, and the outcome is unknown. A
 * `TimeoutCancellationException` (from `withTimeout`) passes unchanged, so `withTimeout`/`withTimeoutOrNull` keep
 * their contract (use `ClientConfig.totalTimeout` to bound a create/renew: its expiry is `OutcomeUnknown`).
 */
private inline fun <T> mutating(operation: Operation, block: () -> T): T =
    try {
        block()
    } catch (e: TimeoutCancellationException) {
        throw e
    } catch (e: CancelledInFlightException) {
        throw e
    } catch (e: CancellationException) {
        throw CancelledInFlightException(operation, e)
    }

/**
 * Encodes a token's text for the native library (the `TokenText` custom type of `SecretToken(String)`): a string
 * that is not valid Unicode is [ConfirmaException.Validation] on `token`, not a `CharacterCodingException`.
 */
internal fun tokenUtf8(value: String): ByteArray {
    // One buffer of the largest possible size (3 bytes per UTF-16 unit), so the encoder never grows it and leaves
    // no copy of the token behind; it is zeroed once the exact-size copy is made (the hot path zeroes that copy
    // right after its native call: HotPath.start / create / validateBlocking).
    val out = java.nio.ByteBuffer.allocate(value.length * 3)
    try {
        val encoder = Charsets.UTF_8.newEncoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
        val r = encoder.encode(CharBuffer.wrap(value), out, true)
        if (r.isError) throw ConfirmaException.notUnicode("token")
        encoder.flush(out)
        return out.array().copyOf(out.position())
    } finally {
        out.array().fill(0)
    }
}

private suspend inline fun <T> withToken(raw: String, block: (SecretToken) -> T): T =
    translate("token") { SecretToken(raw) }.use { block(it) }

/**
 * The cancellation of a `createClient` / `renewToken` coroutine (or of its `…Blocking` / `…Async` variant's
 * coroutine) that was cancelled while its request was in flight. It IS a `CancellationException` (the coroutine
 * is cancelled as usual), but says what a bare one would hide: the request may already have reached the service,
 * so the outcome is unknown — handle it as [ConfirmaException.OutcomeUnknown] (a create may have created the
 * client: a repeat answers `Conflict`; a renew may have rotated the token: validate the old one first). The native
 * task was aborted, so any answer (a new token) was dropped unread.
 */
class CancelledInFlightException internal constructor(
    /** The cancelled operation. */
    val operation: Operation,
    cause: CancellationException,
) : CancellationException(
    "${operation.name.lowercase()} was cancelled while its request was in flight; the outcome is unknown " +
        "(treat it as OutcomeUnknown)",
) {
    /** Always `true`: whether the operation took effect is unknown. */
    val outcomeUnknown: Boolean get() = true

    init {
        initCause(cause)
    }
}
