package com.confirmafinance.sdk

import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.DurationUnit
import kotlin.time.toJavaDuration
import kotlin.time.toKotlinDuration

/**
 * Which CFIS environment to talk to. Tokens are issued per environment. (A custom base URL, such as the local
 * sandbox's, is set with [ClientConfig.baseUrl].)
 */
enum class Environment {
    /** `https://staging-integrations.confirmafinance.com`. */
    STAGING,

    /** `https://integrations.confirmafinance.com`. */
    PRODUCTION,
    ;

    companion object
}

/**
 * Everything an [OnboardingClient] is built from. Every field has a sensible default:
 *
 * ```kotlin
 * val config = ClientConfig(environment = Environment.PRODUCTION, timeout = 20.seconds)
 * val sandbox = ClientConfig(baseUrl = "http://127.0.0.1:8080")
 * ```
 *
 * Java callers use [ClientConfig.builder].
 *
 * @property environment Staging (default) or production. Tokens are issued per environment.
 * @property baseUrl A custom base URL (a proxy, the local sandbox); overrides [environment]. Plain
 *   `http://` is allowed only for loopback hosts.
 * @property timeout Time allowed for one attempt, from sending to the last byte of the body (30 s).
 * @property connectTimeout Time allowed to establish a connection (10 s).
 * @property totalTimeout Time allowed for a whole call, retries and backoff included (60 s). Every duration must
 *   be positive and at most 24 hours: zero, negative, [Duration.INFINITE] or longer make the [OnboardingClient]
 *   constructor throw [ConfirmaException.Configuration].
 * @property maxRetries Retries after the first attempt, an integer 0..10 (2). Only failures that are safe to retry
 *   for the operation are retried: a create or renew is never repeated once it may have reached the service.
 * @property validation Client-side validation before sending ([ValidationMode.STRICT]).
 * @property userAgentSuffix Added to the `User-Agent` after `confirma-sdk/<version> kotlin/<version> confirma-kotlin/<version>`.
 * @property proxy An HTTP(S) proxy URL for all requests. May contain credentials; never printed.
 * @property extraRootCertificatesPem Extra trusted root certificate(s), PEM (e.g. a TLS-inspecting proxy).
 * @property maxResponseBytes The largest response body read, 1 KiB..64 MiB (1 MiB). A larger body is
 *   [ConfirmaException.UnexpectedResponse] for validate and [ConfirmaException.OutcomeUnknown] for create/renew.
 * @property language `fi`, `sv` or `en` (default): the language of [FieldIssue.userMessage] on
 *   [ConfirmaException.Validation.issues]. An unknown one makes the constructor throw [ConfirmaException.Configuration].
 */
data class ClientConfig(
    val environment: Environment = Environment.STAGING,
    val baseUrl: String? = null,
    val timeout: Duration = 30.seconds,
    val connectTimeout: Duration = 10.seconds,
    val totalTimeout: Duration = 60.seconds,
    val maxRetries: Int = 2,
    val validation: ValidationMode = ValidationMode.STRICT,
    val userAgentSuffix: String? = null,
    val proxy: String? = null,
    val extraRootCertificatesPem: String? = null,
    val maxResponseBytes: Int = 1_048_576,
    val language: String = "en",
) {
    /** The proxy (which may hold credentials) and the PEM text are not printed. */
    override fun toString(): String =
        "ClientConfig(environment=$environment, baseUrl=$baseUrl, timeout=$timeout, connectTimeout=$connectTimeout, " +
            "totalTimeout=$totalTimeout, maxRetries=$maxRetries, validation=$validation, " +
            "userAgentSuffix=$userAgentSuffix, proxy=${proxy?.let { "[REDACTED]" }}, " +
            "extraRootCertificatesPem=${extraRootCertificatesPem?.let { "<${it.length} chars>" }}, " +
            "maxResponseBytes=$maxResponseBytes, language=$language)"

    /**
     * The native form: a translation only. Every value is passed as it is and judged by the core
     * (`confirma::ffi::ConfigInput`): the bounds of every option, the defaults behind it, the User-Agent.
     */
    internal fun toNative(): NativeClientConfig = NativeClientConfig(
        kotlinVersion = KotlinVersion.CURRENT.toString(),
        environment = environment.name.lowercase(),
        baseUrl = baseUrl,
        // Milliseconds as doubles (INFINITE as +Infinity): the core rejects zero, negative, infinite and over 24 h
        // as a configuration error naming the option.
        timeoutMs = timeout.toDouble(DurationUnit.MILLISECONDS),
        connectTimeoutMs = connectTimeout.toDouble(DurationUnit.MILLISECONDS),
        totalTimeoutMs = totalTimeout.toDouble(DurationUnit.MILLISECONDS),
        maxRetries = maxRetries.toDouble(),
        maxResponseBytes = maxResponseBytes.toDouble(),
        validation = validation,
        userAgentSuffix = userAgentSuffix,
        proxy = proxy,
        extraRootCertificatesPem = extraRootCertificatesPem,
        language = language,
    )

    /** A builder for Java callers: `ClientConfig.builder().baseUrl(url).timeout(Duration.ofSeconds(5)).build()`. */
    class Builder internal constructor(private var c: ClientConfig) {
        fun environment(value: Environment) = apply { c = c.copy(environment = value) }
        fun baseUrl(value: String?) = apply { c = c.copy(baseUrl = value) }
        fun timeout(value: java.time.Duration) = apply { c = c.copy(timeout = value.toKotlinDuration()) }
        fun connectTimeout(value: java.time.Duration) = apply { c = c.copy(connectTimeout = value.toKotlinDuration()) }
        fun totalTimeout(value: java.time.Duration) = apply { c = c.copy(totalTimeout = value.toKotlinDuration()) }
        fun maxRetries(value: Int) = apply { c = c.copy(maxRetries = value) }
        fun validation(value: ValidationMode) = apply { c = c.copy(validation = value) }
        fun userAgentSuffix(value: String?) = apply { c = c.copy(userAgentSuffix = value) }
        fun proxy(value: String?) = apply { c = c.copy(proxy = value) }
        fun extraRootCertificatesPem(value: String?) = apply { c = c.copy(extraRootCertificatesPem = value) }
        fun maxResponseBytes(value: Int) = apply { c = c.copy(maxResponseBytes = value) }
        fun language(value: String) = apply { c = c.copy(language = value) }
        fun build(): ClientConfig = c
    }

    /** The per-attempt timeout as a `java.time.Duration` (for Java callers). */
    val timeoutJava: java.time.Duration get() = timeout.toJavaDuration()

    companion object {
        /** A builder starting from the defaults. */
        @JvmStatic
        fun builder(): Builder = Builder(ClientConfig())
    }
}
