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
) : RuntimeException(message, cause) {

    /** The request was rejected as invalid, by this SDK before sending ([source] CLIENT) or by the service. */
    class Validation internal constructor(
        i: NativeErrorInfo,
        /** Field path (`client.email`, `contacts[0].name`) → problems, sorted by path. */
        val fieldErrors: Map<String, List<String>>,
        /** Who found the problems. */
        val source: ValidationSource,
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
        /** How long the service asked to wait (`Retry-After`), if it said. */
        val retryAfter: Duration?,
    ) : ConfirmaException(i) {
        /** [retryAfter] in milliseconds (for Java callers). */
        val retryAfterMillis: Long? get() = retryAfter?.inWholeMilliseconds
    }

    /** 5xx: the service failed or is unavailable. */
    class ServiceUnavailable internal constructor(
        i: NativeErrorInfo,
        /** How long the service asked to wait (`Retry-After`), if it said. */
        val retryAfter: Duration?,
    ) : ConfirmaException(i) {
        /** [retryAfter] in milliseconds (for Java callers). */
        val retryAfterMillis: Long? get() = retryAfter?.inWholeMilliseconds
    }

    /** The call did not finish within its time limit. */
    class Timeout internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    /** The connection could not be made or broke. */
    class Network internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

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
    ) : ConfirmaException(i, cause)

    /** The service answered something this SDK could not understand. */
    class UnexpectedResponse internal constructor(
        i: NativeErrorInfo,
        /** A bounded, token-scrubbed excerpt of the body. */
        val bodyExcerpt: String?,
    ) : ConfirmaException(i)

    /** The client was configured wrongly (bad base URL, plain http to a remote host, bad certificate...). */
    class Configuration internal constructor(i: NativeErrorInfo) : ConfirmaException(i)

    /** The SDK itself failed (a bug: please report it). Not one of the service's failure classes. */
    class Internal internal constructor(i: NativeErrorInfo, cause: Throwable? = null) : ConfirmaException(i, cause)

    private constructor(i: NativeErrorInfo, cause: Throwable? = null) : this(
        i.display, cause, i.kind, i.code, i.status?.toInt(), i.requestId, i.retryable, i.detail,
    )

    internal companion object {
        fun from(e: NativeException): ConfirmaException = when (e) {
            is NativeException.Failure -> of(e.info, e.causeInfo)
        }

        fun of(i: NativeErrorInfo, causeInfo: NativeErrorInfo? = null): ConfirmaException {
            val retryAfter = i.retryAfterMs?.toLong()?.milliseconds
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
                    of(causeInfo ?: i.copy(kind = ErrorKind.INTERNAL, code = "CONFIRMA_INTERNAL")),
                )
                ErrorKind.UNEXPECTED_RESPONSE -> UnexpectedResponse(i, i.bodyExcerpt)
                ErrorKind.CONFIGURATION -> Configuration(i)
                ErrorKind.INTERNAL -> Internal(i)
            }
        }

        fun configurationError(message: String): ConfirmaException = of(plain(ErrorKind.CONFIGURATION, "configuration error", message))

        fun internalError(message: String, cause: Throwable?): ConfirmaException =
            Internal(plain(ErrorKind.INTERNAL, "internal error", message), cause)

        private fun plain(kind: ErrorKind, prefix: String, message: String) = NativeErrorInfo(
            kind = kind, kindName = kind.id, code = "CONFIRMA_${kind.name}", display = "$prefix: $message",
            detail = message, status = null, requestId = null, retryable = false, retryAfterMs = null,
            fieldErrors = emptyMap(), validationSource = null, operation = null, bodyExcerpt = null,
        )
    }
}
