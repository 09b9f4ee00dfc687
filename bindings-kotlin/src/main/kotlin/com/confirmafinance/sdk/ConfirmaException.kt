package com.confirmafinance.sdk

import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/** Who found a validation problem. */
enum class ValidationSource {
    /** This SDK, before anything was sent. */
    CLIENT,

    /** The service. */
    SERVER,
}

/** The operation an [ConfirmaException.OutcomeUnknown] happened in. */
enum class Operation {
    CREATE_CLIENT,
    VALIDATE_TOKEN,
    RENEW_TOKEN,
}

/** The kind's snake_case name, as the core and the scenario files spell it (`permission_denied`). */
val ErrorKind.id: String get() = name.lowercase()

/**
 * Every error the SDK raises. A sealed hierarchy with one class per kind, so a `when` over it is exhaustive:
 *
 * ```kotlin
 * try {
 *     client.createClient(provisioningToken, newClient)
 * } catch (e: ConfirmaException.Validation) {
 *     e.fieldErrors.forEach { (field, problems) -> form.showError(field, problems) }
 * } catch (e: ConfirmaException.Conflict) {
 *     // the client exists: switch to the existing-client path (validate or renew its token)
 * } catch (e: ConfirmaException.OutcomeUnknown) {
 *     // the create may or may not have happened: check before repeating it
 * }
 * ```
 *
 * The [message] is the core's text; it never contains a token. Unchecked (a `RuntimeException`), as in
 * most JVM cloud SDKs; the blocking methods declare it with `@Throws` for Java callers.
 *
 * A token the service returned is never dropped: when a create answered 2xx with a new access token but without
 * the client's identifiers (a partial success), the call throws [OutcomeUnknown] and [recoveredToken] holds the
 * new client's token — the client exists, store the token. A 2xx create/renew answer that could not be read is
 * kept whole in [rawResponse]. Both are [SecretToken]s (`[REDACTED]` when printed) and are not serialised
 * (`@Transient`: `null` after Java deserialisation).
 */
sealed class ConfirmaException(
    /** The core's full message (also [message]). */
    message: String,
    cause: Throwable?,
    /** The kind. */
    val kind: ErrorKind,
    /** Stable machine-readable code: `CONFIRMA_VALIDATION`, `CONFIRMA_PERMISSION_DENIED`, ... */
    val code: String,
    /** The HTTP status, where a response arrived. */
    val status: Int?,
    /** The request id (the service's, else the one this SDK sent), where there is one. */
    val requestId: String?,
    /** Whether the same call may succeed if made again later (the SDK already retried within its budget). */
    val retryable: Boolean,
    /** The message without the kind prefix (e.g. the service's own text). */
    val detail: String,
    recoveredToken: SecretToken?,
    rawResponse: SecretToken?,
) : RuntimeException(message, cause) {

    /**
     * The new access token of a partially successful create (answered 2xx with a token but without `clientId` /
     * `customerCode`): the client was created — store this token. On [OutcomeUnknown] and its
     * [UnexpectedResponse] cause; `null` otherwise.
     */
    @Transient
    val recoveredToken: SecretToken? = recoveredToken

    /**
     * A 2xx create/renew answer that could not be read (e.g. a renewed token in an unexpected field), whole, as
     * a secret: `reveal()` it to recover the token by hand. `null` otherwise.
     */
    @Transient
    val rawResponse: SecretToken? = rawResponse

    /** The request was rejected as invalid, by this SDK before sending ([source] CLIENT) or by the service. */
    class Validation internal constructor(
        i: NativeErrorInfo,
        /** Field path (`client.email`, `contacts[0].name`) → problems, sorted by path. */
        val fieldErrors: Map<String, List<String>>,
        /** Who found the problems. */
        val source: ValidationSource,
        /**
         * The same problems with a stable [FieldIssue.code], its parameters, and [FieldIssue.userMessage] for the
         * form's end user in the client's [ClientConfig.language]. A server-side problem keeps the server's text
         * and gets the code its text is recognised as, else `server`.
         */
        val issues: List<FieldIssue> = i.issues.map(FieldIssue::of),
    ) : ConfirmaException(i)

    /** 401: the token is missing, unknown, revoked, or for another environment. */
    class Authentication internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    /** 403: the token may not do this (e.g. a client token used to create a client). */
    class PermissionDenied internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    /** 409: the client already exists; switch to the existing-client path (validate or renew its token). */
    class Conflict internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    /** 429: too many requests. */
    class RateLimited internal constructor(
        i: NativeErrorInfo,
        /** [retryAfter] in milliseconds (for Java callers). */
        val retryAfterMillis: Long?,
    ) : ConfirmaException(i) {
        /** How long the service asked to wait (`Retry-After`), if it said. */
        val retryAfter: Duration? get() = retryAfterMillis?.milliseconds
    }

    /** 5xx: the service failed or is unavailable. */
    class ServiceUnavailable internal constructor(
        i: NativeErrorInfo,
        /** [retryAfter] in milliseconds (for Java callers). */
        val retryAfterMillis: Long?,
    ) : ConfirmaException(i) {
        /** How long the service asked to wait (`Retry-After`), if it said. */
        val retryAfter: Duration? get() = retryAfterMillis?.milliseconds
    }

    /** The call did not finish within its time limit. */
    class Timeout internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    /** The connection could not be made or broke. */
    class Network internal constructor(i: NativeErrorInfo) : ConfirmaException(i) {
        /** Whether it failed while connecting (the request was certainly not sent), or `null` if unknown. */
        val connect: Boolean? = i.connect
    }

    /**
     * A create or renew failed after the request may have reached the service: it may or may not have
     * taken effect. Do not blindly repeat it (a renew may have rotated the token; a create may have created
     * the client — a repeat then answers [Conflict]).
     */
    class OutcomeUnknown internal constructor(
        i: NativeErrorInfo,
        /** Which operation. */
        val operation: Operation,
        /** The failure that made the outcome unknown. */
        override val cause: ConfirmaException,
    ) : ConfirmaException(i, cause, i.recoveredToken ?: cause.recoveredToken, i.rawResponse ?: cause.rawResponse)

    /** The service answered something this SDK could not understand. */
    class UnexpectedResponse internal constructor(
        i: NativeErrorInfo,
        /** A bounded, token-scrubbed excerpt of an error body (empty for a 2xx answer, which may hold a token). */
        val bodyExcerpt: String?,
    ) : ConfirmaException(i)

    /** The client was configured wrongly (bad base URL, plain http to a remote host, bad certificate...). */
    class Configuration internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    /**
     * The SDK itself failed: a panic in the native library was contained (kind `internal`, code
     * `CONFIRMA_INTERNAL`). A bug: please report it. Never a process abort, never a hang.
     */
    class Internal internal constructor(i: NativeErrorInfo, cause: Throwable? = null) : ConfirmaException(i, cause)

    /**
     * The credential store failed: the database is unreachable, holds unreadable data, or the encryption key is
     * missing or wrong (`CONFIRMA_STORE_KEY`). [retryable] says whether trying again later may help.
     */
    class Storage internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    /**
     * A client's token was rotated and the new token is gone (a renewal's answer was lost), or the service no
     * longer accepts any stored token. Never a dead token served silently: ask Confirma Finance support for a new
     * token for this client (or re-provision it), then import it.
     */
    class CredentialsLost internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    private constructor(
        i: NativeErrorInfo,
        cause: Throwable? = null,
        recoveredToken: SecretToken? = i.recoveredToken,
        rawResponse: SecretToken? = i.rawResponse,
    ) : this(i.display, cause, i.kind, i.code, i.status?.toInt(), i.requestId, i.retryable, i.detail, recoveredToken, rawResponse)

    internal companion object {
        fun from(e: NativeException): ConfirmaException = when (e) {
            is NativeException.Failure -> of(e.info)
        }

        /**
         * The exception for the core's `ErrorInfo` (and, for [OutcomeUnknown], its cause chain). A translation
         * table: kind → class, the core's snake_case names → the enums; every value is the core's.
         */
        fun of(i: NativeErrorInfo, causeInfo: NativeErrorInfo? = i.cause): ConfirmaException {
            val retryAfter = i.retryAfterMs?.toLong()
            return when (i.kind) {
                ErrorKind.VALIDATION -> Validation(
                    i,
                    i.fieldErrors.toSortedMap().mapValues { (_, v) -> v.toList() },
                    if (i.validationSource == "server") ValidationSource.SERVER else ValidationSource.CLIENT,
                )
                ErrorKind.AUTHENTICATION -> Authentication(i)
                ErrorKind.PERMISSION_DENIED -> PermissionDenied(i)
                ErrorKind.CONFLICT -> Conflict(i)
                ErrorKind.RATE_LIMITED -> RateLimited(i, retryAfter)
                ErrorKind.SERVICE_UNAVAILABLE -> ServiceUnavailable(i, retryAfter)
                ErrorKind.TIMEOUT -> Timeout(i)
                ErrorKind.NETWORK -> Network(i)
                ErrorKind.OUTCOME_UNKNOWN -> OutcomeUnknown(
                    i,
                    when (i.operation) {
                        "renew_token" -> Operation.RENEW_TOKEN
                        "validate_token" -> Operation.VALIDATE_TOKEN
                        else -> Operation.CREATE_CLIENT
                    },
                    of(causeInfo ?: i.copy(kind = ErrorKind.INTERNAL, kindName = "internal", code = "CONFIRMA_INTERNAL", cause = null)),
                )
                ErrorKind.UNEXPECTED_RESPONSE -> UnexpectedResponse(i, i.bodyExcerpt)
                ErrorKind.CONFIGURATION -> Configuration(i)
                ErrorKind.INTERNAL -> Internal(i)
                ErrorKind.STORAGE -> Storage(i)
                ErrorKind.CREDENTIALS_LOST -> CredentialsLost(i)
            }
        }

        /** A panic that uniffi contained itself (e.g. while converting an argument), as the core words a contained panic. */
        fun internalError(detail: String, cause: Throwable?): ConfirmaException = Internal(nativeContainedPanic(detail), cause)

        /** A string the caller passed cannot cross to the native library (an unpaired UTF-16 surrogate). */
        fun notUnicode(field: String): ConfirmaException =
            invalidInput(field, "is not valid Unicode (contains an unpaired UTF-16 surrogate)")

        /** A value Kotlin cannot hand over or hold: the core's client-side `Validation` error on [field]. */
        fun invalidInput(field: String, problem: String): ConfirmaException = of(nativeInvalidInput(field, problem))
    }
}

/**
 * The core's sample errors (`confirma::ffi::samples::errors()`: one of every kind, a cause chain, the two carried
 * secrets, a contained panic) as the public exceptions, by sample name. For the SDK's own cross-language parity
 * test; not part of the API.
 */
internal fun sampleErrors(): Map<String, ConfirmaException> =
    nativeSampleErrors().associate { it.name to ConfirmaException.of(it.info) }
