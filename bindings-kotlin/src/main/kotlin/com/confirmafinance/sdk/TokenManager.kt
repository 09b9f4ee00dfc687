package com.confirmafinance.sdk

import java.time.Instant
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.time.Duration
import kotlin.time.DurationUnit
import kotlin.time.toKotlinDuration
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.launch
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.runBlocking

/**
 * How a [TokenManager] renews. Every option is optional: `null` is the core's default (shown below), and every
 * value is judged by the core (`confirma::ffi::ManagerInput`): a bad one makes the [TokenManager] constructor throw
 * [ConfirmaException.Configuration] naming it. Durations must be positive and at most a year.
 *
 * @property renewEvery With no known expiry, renew this often (24 h).
 * @property renewAtFraction With a known lifetime, renew at this fraction of it (2/3; above 0, below 1).
 * @property jitter The spread of renewal times, both ways, as a fraction of the interval (0.1; 0 to 0.5), so that
 *   restarts and fleets do not renew in lock-step.
 * @property lease How long a renewal claim holds (the client's `totalTimeout` + 30 s; must be longer than it).
 * @property validateInterval Validate a stored token on first use unless some instance did within this (1 h).
 * @property failureBackoff The first back-off after a failed renewal (30 s), doubled up to [failureBackoffMax].
 * @property failureBackoffMax The longest back-off (1 h).
 * @property pollInterval How often to re-read the store while another instance holds the lease (100 ms).
 * @property owner This instance's name in leases and events (`<host>/<pid>/<random>`).
 */
data class TokenManagerOptions(
    val renewEvery: Duration? = null,
    val renewAtFraction: Double? = null,
    val jitter: Double? = null,
    val lease: Duration? = null,
    val validateInterval: Duration? = null,
    val failureBackoff: Duration? = null,
    val failureBackoffMax: Duration? = null,
    val pollInterval: Duration? = null,
    val owner: String? = null,
) {
    /** The native form: milliseconds as doubles, judged by the core. */
    internal fun toNative() = NativeManagerOptions(
        renewEveryMs = renewEvery?.ms(),
        renewAtFraction = renewAtFraction,
        jitter = jitter,
        leaseMs = lease?.ms(),
        validateIntervalMs = validateInterval?.ms(),
        failureBackoffMs = failureBackoff?.ms(),
        failureBackoffMaxMs = failureBackoffMax?.ms(),
        pollIntervalMs = pollInterval?.ms(),
        owner = owner,
    )

    /** A builder for Java callers: `TokenManagerOptions.builder().renewEvery(Duration.ofHours(12)).build()`. */
    class Builder internal constructor(private var o: TokenManagerOptions) {
        fun renewEvery(value: java.time.Duration) = apply { o = o.copy(renewEvery = value.toKotlinDuration()) }
        fun renewAtFraction(value: Double) = apply { o = o.copy(renewAtFraction = value) }
        fun jitter(value: Double) = apply { o = o.copy(jitter = value) }
        fun lease(value: java.time.Duration) = apply { o = o.copy(lease = value.toKotlinDuration()) }
        fun validateInterval(value: java.time.Duration) = apply { o = o.copy(validateInterval = value.toKotlinDuration()) }
        fun failureBackoff(value: java.time.Duration) = apply { o = o.copy(failureBackoff = value.toKotlinDuration()) }
        fun failureBackoffMax(value: java.time.Duration) = apply { o = o.copy(failureBackoffMax = value.toKotlinDuration()) }
        fun pollInterval(value: java.time.Duration) = apply { o = o.copy(pollInterval = value.toKotlinDuration()) }
        fun owner(value: String?) = apply { o = o.copy(owner = value) }
        fun build(): TokenManagerOptions = o
    }

    companion object {
        /** A builder starting from the core's defaults. */
        @JvmStatic
        fun builder(): Builder = Builder(TokenManagerOptions())
    }
}

private fun Duration.ms(): Double = toDouble(DurationUnit.MILLISECONDS)

/**
 * A credential's status: everything but the token (the same fields in every language of the SDK).
 *
 * @property environment `staging`, `production` or the custom base URL.
 * @property clientId The CFIS client id (`pending-create:<business code>` for the record of a pending create).
 * @property customerCode The customer code.
 * @property paymentReferencePrefix The payment reference prefix.
 * @property state Where the credential is in its life.
 * @property health Healthy, degraded (renewals fail, or one is being reconciled; the token is still served) or lost.
 * @property tokenVersion How many tokens this credential has had (1 after create or import).
 * @property fingerprint The current token's fingerprint (keyed; safe to log).
 * @property lastRenewedAt When the current token was received.
 * @property expiresAt When it expires, if the service said (never invented).
 * @property nextRenewAt The next planned renewal (jittered once and persisted).
 * @property lastValidatedAt When the token was last validated with the service.
 * @property consecutiveFailures Failed renewals in a row.
 * @property lastError The last failure's error code (`CONFIRMA_TIMEOUT`), never its text.
 * @property leaseHolder Who holds the renewal lease, if anyone.
 * @property leaseExpiresAt Until when.
 * @property encrypted Whether the store seals tokens (false only after the explicit plaintext opt-in).
 */
data class CredentialStatus(
    val environment: String,
    val clientId: String,
    val customerCode: String,
    val paymentReferencePrefix: String,
    val state: CredentialState,
    val health: Health,
    val tokenVersion: Long,
    val fingerprint: String,
    val lastRenewedAt: Instant?,
    val expiresAt: Instant?,
    val nextRenewAt: Instant?,
    val lastValidatedAt: Instant?,
    val consecutiveFailures: Int,
    val lastError: String?,
    val leaseHolder: String?,
    val leaseExpiresAt: Instant?,
    val encrypted: Boolean,
) {
    internal companion object {
        fun of(s: NativeCredentialStatus) = CredentialStatus(
            environment = s.environment,
            clientId = s.clientId,
            customerCode = s.customerCode,
            paymentReferencePrefix = s.paymentReferencePrefix,
            state = s.state,
            health = s.health,
            tokenVersion = s.tokenVersion.toLong(),
            fingerprint = s.fingerprint,
            lastRenewedAt = s.lastRenewedAtMs?.let(Instant::ofEpochMilli),
            expiresAt = s.expiresAtMs?.let(Instant::ofEpochMilli),
            nextRenewAt = s.nextRenewAtMs?.let(Instant::ofEpochMilli),
            lastValidatedAt = s.lastValidatedAtMs?.let(Instant::ofEpochMilli),
            consecutiveFailures = s.consecutiveFailures.toInt(),
            lastError = s.lastError,
            leaseHolder = s.leaseHolder,
            leaseExpiresAt = s.leaseExpiresAtMs?.let(Instant::ofEpochMilli),
            encrypted = s.encrypted,
        )
    }
}

/**
 * Something that happened to a credential in this process (rotations, failures, reconciliations, losses): the
 * core's `ManagerEvent`, the same fields in every language. Fingerprints only, never tokens. The store's event log
 * has every instance's events.
 *
 * @property kind What happened.
 * @property environment The environment.
 * @property clientId The client id.
 * @property tokenVersion The token version after it.
 * @property fingerprint The fingerprint of the token concerned.
 * @property attemptId The renewal attempt, if any (logged with every event of the attempt).
 * @property detail Details: an error code, the reconciliation's reasoning.
 * @property at When.
 */
data class TokenEvent(
    val kind: EventKind,
    val environment: String,
    val clientId: String,
    val tokenVersion: Long,
    val fingerprint: String,
    val attemptId: String?,
    val detail: String,
    val at: Instant,
) {
    internal companion object {
        fun of(e: NativeTokenEvent) = TokenEvent(
            kind = e.kind,
            environment = e.environment,
            clientId = e.clientId,
            tokenVersion = e.tokenVersion.toLong(),
            fingerprint = e.fingerprint,
            attemptId = e.attemptId,
            detail = e.detail,
            at = Instant.ofEpochMilli(e.atMs),
        )
    }
}

/** The snake_case name of an event kind, as stored and as every language spells it (`renew_started`). */
val EventKind.id: String get() = name.lowercase()

/** The snake_case name of a state (`active`, `ambiguous`, …). */
val CredentialState.id: String get() = name.lowercase()

/** The snake_case name of a health (`healthy`, `degraded`, `lost`). */
val Health.id: String get() = name.lowercase()

/**
 * Keeps clients' access tokens alive for years — crash-safe and fleet-safe — over a [CredentialStore].
 *
 * Renew rotates a token (the old one dies once the new one is issued), so a lost answer, a crash between the
 * answer and the database write, or two instances renewing at once could log a client out for good. The manager
 * (the Rust core's) claims each renewal in the store before sending it, commits the new token before anyone sees
 * it, and reconciles what is ambiguous. Renewal happens early (about two thirds into a known lifetime, else every
 * [TokenManagerOptions.renewEvery], jittered and persisted so a fleet does not renew in lock-step): until then
 * [token] serves the current token from memory; from then on the first call renews (or, in a fleet, adopts the
 * renewal another instance claimed) before serving, so a token it hands out is never one being rotated away.
 *
 * ```kotlin
 * val manager = TokenManager(client, CredentialStore.sqlite("/var/lib/app/confirma.db"))
 * manager.importCredentials(clientId, SecretToken(existing))   // once; or client.createClient(pt, form, store = store)
 * val token = manager.token(clientId)                          // on every request: memory, no I/O
 * ```
 *
 * **Coroutines.** The `suspend` functions never block a thread. Cancelling a coroutine only stops it waiting: a
 * renewal, reconciliation, import or create it started runs on in the core to its commit and is persisted (the
 * next [token] gets the new token). Java callers use the `…Blocking` variants.
 *
 * Thread-safe; create one per process and environment and share it. [close] releases it; calls after it throw
 * [IllegalStateException]. Every failure is a [ConfirmaException]: [ConfirmaException.Storage] (the store failed;
 * nothing was lost), [ConfirmaException.CredentialsLost] (the token was rotated and the new one is gone: ask
 * Confirma Finance support for a new token, then [importCredentials] it), [ConfirmaException.Configuration] (bad
 * options, or no credentials stored for the client).
 *
 * @param client The client whose environment and HTTP settings the manager uses (it keeps its own reference).
 * @param store Where credentials are kept.
 * @param options How to renew (the core's defaults when omitted).
 * @throws ConfirmaException.Configuration on a bad option.
 */
class TokenManager @JvmOverloads constructor(
    client: OnboardingClient,
    store: CredentialStore,
    /** The options this manager was built with. */
    val options: TokenManagerOptions = TokenManagerOptions(),
) : AutoCloseable {
    private val native: NativeTokenManager =
        translate("options") { NativeTokenManager(client.nativeClient(), store.live(), options.toNative()) }
    private val closed = AtomicBoolean(false)
    private val hotPath = java.util.concurrent.ConcurrentHashMap<String, NativeManagedClient>()
    private val listeners = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** The environment this manager's records belong to (`staging`, `production`, or the base URL). */
    val environment: String = native.environment()

    /** This instance's name in leases and events. */
    val owner: String = native.owner()

    /** The store's description (never a password). */
    val storeDescription: String = native.storeDescription()

    /**
     * A usable token for [clientId]. In the common case it is served from memory without I/O or suspension. On first
     * use the record is loaded (an interrupted renewal reconciled; the token validated unless an instance did within
     * `validateInterval`); from the planned renewal time on, the first call renews (or adopts another instance's
     * renewal) before returning; a failed renewal serves the current token (health `degraded`) and backs off; if
     * the store cannot be read then, the cached token is served.
     *
     * @throws ConfirmaException.Configuration no credentials stored for [clientId].
     * @throws ConfirmaException.CredentialsLost the token was rotated and the new one is gone.
     * @throws ConfirmaException.Storage the store failed.
     */
    suspend fun token(clientId: String): SecretToken = hot(clientId) ?: translate("clientId") {
        live().token(clientId).also { remember(clientId) }
    }

    /**
     * The hot path: one native call with a handle in and a handle out, no suspension. `null` when the token cannot be
     * served from memory at once (first use, expired, an error): the async call then does the work.
     */
    private fun hot(clientId: String): SecretToken? {
        val h = hotPath[clientId] ?: return null
        check(!closed.get()) { "this TokenManager is closed" }
        return try {
            h.tokenNow()
        } catch (e: NativeHotPathMiss) {
            null
        }
    }

    /** A client that was served once gets its hot-path handle (so an unknown id never grows the map). */
    private fun remember(clientId: String) {
        if (!hotPath.containsKey(clientId)) {
            val h = live().managed(clientId)
            if (hotPath.putIfAbsent(clientId, h) != null) h.close()
        }
    }

    /** The status of [clientId]'s credentials (no token). */
    suspend fun status(clientId: String): CredentialStatus =
        translate("clientId") { CredentialStatus.of(live().status(clientId)) }

    /** The statuses of every credential of this manager's environment. */
    suspend fun statuses(): List<CredentialStatus> = translate { live().statuses().map(CredentialStatus::of) }

    /**
     * Imports an existing client's token: validated with the service first (an unknown token is refused as
     * [ConfirmaException.Validation]; an expired one is accepted and renewed on first use), then stored, replacing
     * what is stored for the client.
     */
    suspend fun importCredentials(
        clientId: String,
        token: SecretToken,
        customerCode: String? = null,
        paymentReferencePrefix: String? = null,
    ): CredentialStatus = translate("token") {
        CredentialStatus.of(live().importCredentials(clientId, token, customerCode, paymentReferencePrefix))
    }

    /** [importCredentials] with a raw token. */
    suspend fun importCredentials(
        clientId: String,
        token: String,
        customerCode: String? = null,
        paymentReferencePrefix: String? = null,
    ): CredentialStatus = translate("token") { SecretToken(token) }.use { importCredentials(clientId, it, customerCode, paymentReferencePrefix) }

    /**
     * Renews [clientId]'s token now, under the fleet-wide lease (another instance's renewal in progress is waited
     * for and its token taken instead). Cancelling the coroutine does not stop the renewal: it completes and is
     * persisted.
     *
     * @throws ConfirmaException.CredentialsLost the renewal showed the credentials are lost.
     */
    suspend fun renewNow(clientId: String): CredentialStatus =
        translate("clientId") { CredentialStatus.of(live().renewNow(clientId)) }

    /**
     * Reconciles every record of this environment that is ambiguous or whose renewal was abandoned (its lease
     * expired), e.g. after a crash; returns their statuses afterwards. Pending creates not in flight are listed too.
     */
    suspend fun reconcile(): List<CredentialStatus> = translate { live().reconcile().map(CredentialStatus::of) }

    /**
     * Creates a client and commits its credentials to the store before returning — the one safe way to create a
     * client whose token must never be lost (a pending-create record is written before the request is sent; a
     * create whose outcome is unknown is resolved by the next create of that business code, never a second client).
     * Cancelling the coroutine does not stop the create: it completes and its credentials are committed.
     */
    suspend fun createClient(provisioningToken: SecretToken, newClient: NewClient): CreatedClient =
        translate("newClient") { live().createClient(provisioningToken, newClient) }

    /** [createClient] with a raw provisioning token. */
    suspend fun createClient(provisioningToken: String, newClient: NewClient): CreatedClient =
        translate("token") { SecretToken(provisioningToken) }.use { createClient(it, newClient) }

    /**
     * Removes the pending-create record of [businessCode] once it has been dealt with (a `lost` create whose
     * token was obtained from Confirma Finance support and imported). `false` if there is none.
     */
    suspend fun discardPendingCreate(businessCode: String): Boolean =
        translate("businessCode") { live().discardPendingCreate(businessCode) }

    /**
     * This manager's events (rotations, failures, reconciliations, losses) as they happen in this process. A cold
     * flow: each collector receives the events from the moment it starts collecting (start it with
     * `launch(start = CoroutineStart.UNDISPATCHED)` to be subscribed before the next line runs); it completes
     * when the manager is closed. A collector that falls more than 256 events behind skips what it missed; it never
     * slows the manager down.
     */
    val events: Flow<TokenEvent> = flow {
        translate { live().subscribe() }.use { stream ->
            while (true) {
                val e = translate { stream.next() } ?: break
                emit(TokenEvent.of(e))
            }
        }
    }

    /**
     * [events] for Java callers: calls [listener] with every event from now on (subscribed before this returns), on
     * a thread of `Dispatchers.Default`, in order. An exception thrown by the listener is ignored (the subscription
     * goes on). Close the returned handle to stop; closing the manager stops it too.
     */
    fun onEvent(listener: java.util.function.Consumer<TokenEvent>): AutoCloseable {
        live()
        val job = listeners.launch(start = CoroutineStart.UNDISPATCHED) {
            events.collect { e -> runCatching { listener.accept(e) } }
        }
        return AutoCloseable { job.cancel() }
    }

    // ---- blocking variants (Java, scripts) ----

    /** Blocking [token]: the hot path never leaves the calling thread. */
    @Throws(ConfirmaException::class)
    fun tokenBlocking(clientId: String): SecretToken = hot(clientId) ?: runBlocking { token(clientId) }

    /** Blocking [status]. */
    @Throws(ConfirmaException::class)
    fun statusBlocking(clientId: String): CredentialStatus = runBlocking { status(clientId) }

    /** Blocking [statuses]. */
    @Throws(ConfirmaException::class)
    fun statusesBlocking(): List<CredentialStatus> = runBlocking { statuses() }

    /** Blocking [importCredentials]. */
    @JvmOverloads
    @Throws(ConfirmaException::class)
    fun importCredentialsBlocking(
        clientId: String,
        token: SecretToken,
        customerCode: String? = null,
        paymentReferencePrefix: String? = null,
    ): CredentialStatus = runBlocking { importCredentials(clientId, token, customerCode, paymentReferencePrefix) }

    /** Blocking [renewNow]. */
    @Throws(ConfirmaException::class)
    fun renewNowBlocking(clientId: String): CredentialStatus = runBlocking { renewNow(clientId) }

    /** Blocking [reconcile]. */
    @Throws(ConfirmaException::class)
    fun reconcileBlocking(): List<CredentialStatus> = runBlocking { reconcile() }

    /** Blocking [createClient]. */
    @Throws(ConfirmaException::class)
    fun createClientBlocking(provisioningToken: SecretToken, newClient: NewClient): CreatedClient =
        runBlocking { createClient(provisioningToken, newClient) }

    /** Blocking [discardPendingCreate]. */
    @Throws(ConfirmaException::class)
    fun discardPendingCreateBlocking(businessCode: String): Boolean = runBlocking { discardPendingCreate(businessCode) }

    /**
     * Releases the manager. Renewals already running finish (and are persisted); no new ones start from this
     * instance; [events] collectors complete. Idempotent.
     */
    override fun close() {
        if (closed.compareAndSet(false, true)) {
            listeners.cancel()
            hotPath.values.forEach { it.close() }
            hotPath.clear()
            native.close()
        }
    }

    /** `TokenManager(environment=…, store=…, owner=…)`: never a token or a key. */
    override fun toString(): String = "TokenManager(environment=$environment, store=$storeDescription, owner=$owner)"

    private fun live(): NativeTokenManager {
        check(!closed.get()) { "this TokenManager is closed" }
        return native
    }
}
