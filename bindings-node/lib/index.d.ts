// Public TypeScript API of confirma-sdk. The native layer's declarations (`native.d.ts`) are generated
// by napi-rs at build time; this file types the thin JavaScript layer over them.

import type { inspect } from 'node:util'

// ------------------------------------------------------------------------------------------------
// Options

/** A CFIS environment. Tokens are issued per environment. */
export type Environment = 'staging' | 'production'

/** Client-side validation before sending. */
export type ValidationMode = 'strict' | 'lenient'

export interface OnboardingClientOptions {
  /** `'staging'` (https://staging-integrations.confirmafinance.com, the default) or `'production'`. Ignored when `baseUrl` is given. */
  environment?: Environment
  /** A custom base URL (a proxy, the local sandbox); wins over `environment`. Plain `http://` only for loopback hosts. */
  baseUrl?: string | URL
  /**
   * Time allowed for one attempt, from sending to the last byte of the body (default 30 000). Every
   * duration must be a finite number greater than 0 and at most 24 hours (86 400 000); anything else
   * (NaN, Infinity, negative, 0, `Number.MAX_SAFE_INTEGER`) is a ConfigurationError.
   */
  timeoutMs?: number
  /** Time allowed to establish a connection (default 10 000). */
  connectTimeoutMs?: number
  /** Time allowed for a whole call, retries and backoff included (default 60 000). */
  totalTimeoutMs?: number
  /** Retries after the first attempt, 0–10 (default 2). Only retries that are safe for the operation happen. */
  maxRetries?: number
  /** The largest response body read, in bytes: 1024 – 67 108 864 (default 1 048 576). */
  maxResponseBytes?: number
  /** `'strict'` (default) or `'lenient'` (presence and ISO codes only). */
  validation?: ValidationMode
  /** Appended to the User-Agent after `confirma-sdk/<v> node/<v> confirma-node/<v>`. Printable ASCII. */
  userAgentSuffix?: string
  /** An HTTP(S) proxy URL for all requests. May contain credentials; never logged. */
  proxy?: string | URL
  /** Extra trusted root certificate(s), PEM (e.g. a TLS-inspecting corporate proxy). */
  rootCertificatesPem?: string | Buffer
}

/** Per-call options, accepted as the last argument of every method. */
export interface CallOptions {
  /** Aborting it cancels the in-flight request and rejects the call with an {@link AbortError}. */
  signal?: AbortSignal
}

// ------------------------------------------------------------------------------------------------
// Request model (camelCase, shaped like the API contract)

/** The CFIS service a client subscribes to. */
export type ServiceType = 'LIFECYCLE' | 'INTERMEDIATION' | 'COOP'

/** The role of a contact person: one PRIMARY contact is required, at most one contact per role. */
export type ContactRole = 'PRIMARY' | 'TECHNICAL' | 'ACCOUNTANT'

/** The `service` section. */
export interface Service {
  type: ServiceType
  /** Your partner code, as agreed with Confirma Finance. */
  partnerCode: string
}

/** The `client` section: the company being onboarded. Empty optional strings count as absent. */
export interface ClientDetails {
  name: string
  /** Business ID (Finnish Y-tunnus `1234567-8` for countryCode FI). */
  businessCode: string
  /** VAT registration number (`FI` + the 8 digits of the business ID for Finland). */
  vatRegNbr?: string | null
  postalAddress: string
  /** Validated against the country (5 digits for FI). */
  postalCode: string
  postalDistrict: string
  /** ISO 3166-1 alpha-2. */
  countryCode: string
  telephone?: string | null
  email: string
  website?: string | null
  /** ISO 639-1, upper case (`FI`, `SV`, `EN`; `DK` accepted for Danish). */
  languageCode: string
}

/** A contact person of the new client. */
export interface Contact {
  role: ContactRole
  name: string
  email: string
  telephone?: string | null
}

/** The body of `POST /api/v1/partner/client`. */
export interface NewClient {
  service: Service
  client: ClientDetails
  contacts: Contact[]
}

// ------------------------------------------------------------------------------------------------
// Results

/** The result of creating a client. */
export interface CreatedClient {
  readonly clientId: string
  readonly customerCode: string
  readonly paymentReferencePrefix: string
  /** The client's first API access token. Store `accessToken.reveal()` securely. */
  readonly accessToken: SecretToken
  /** When the token expires, if the service said. */
  readonly tokenExpiresAt: Date | null
}

/** The answer of validate. */
export interface TokenStatus {
  /** Whether the token is valid now. */
  readonly isValid: boolean
  /** Whether the token is known but expired (renew it). */
  readonly expired: boolean
  /** The service's message ("Token is valid", "Token has expired", ...). */
  readonly message: string
}

/** The answer of renew. */
export interface RenewedToken {
  /** The new access token; the old one stops working. */
  readonly accessToken: SecretToken
  /** When the new token expires, if the service said. */
  readonly expiresAt: Date | null
}

/** Anything a method accepts as a token. */
export type TokenLike = string | SecretToken

// ------------------------------------------------------------------------------------------------
// SecretToken

/**
 * An API token. `toString()`, template literals, `JSON.stringify`, `util.inspect` and `console.log`
 * all show `[REDACTED]`; `reveal()` returns the raw string.
 */
export declare class SecretToken {
  constructor(value: string | SecretToken)
  /** Wraps a string (a SecretToken is returned as it is). */
  static from(value: string | SecretToken): SecretToken
  /** The raw token: call only where it must leave the program (storage). */
  reveal(): string
  /** Whether both hold the same token (constant time for equal lengths). */
  equals(other: string | SecretToken): boolean
  /** Always `'[REDACTED]'`. */
  toString(): string
  /** Always `'[REDACTED]'`. */
  toJSON(): string
  [Symbol.toPrimitive](): string
  readonly [Symbol.toStringTag]: string
  [inspect.custom](): string
}

// ------------------------------------------------------------------------------------------------
// Errors

/** Stable error kinds (snake_case). */
export type ErrorKind =
  | 'validation'
  | 'authentication'
  | 'permission_denied'
  | 'conflict'
  | 'rate_limited'
  | 'service_unavailable'
  | 'timeout'
  | 'network'
  | 'outcome_unknown'
  | 'unexpected_response'
  | 'configuration'
  | 'internal'
  | 'storage'
  | 'credentials_lost'

/** Stable error codes. */
export type ErrorCode = `CONFIRMA_${Uppercase<ErrorKind>}`

/** Extra fields an error can be constructed with (mainly for tests of your own code). */
export interface ConfirmaErrorDetails {
  detail?: string
  code?: string
  kind?: string
  status?: number | null
  requestId?: string | null
  retryable?: boolean
  cause?: unknown
  retryAfterMs?: number | null
  retryAfter?: number | null
  fieldErrors?: Record<string, string[]>
  source?: 'client' | 'server'
  bodyExcerpt?: string | null
  operation?: 'create_client' | 'renew_token' | null
  connect?: boolean | null
  recoveredToken?: string | SecretToken | null
  rawResponse?: string | SecretToken | null
}

/** Base class of every error the SDK reports for a failed call. Messages never contain a token. */
export declare class ConfirmaError extends Error {
  constructor(message: string, details?: ConfirmaErrorDetails)
  /** The error's own message, without the kind prefix and HTTP status that `message` adds. */
  readonly detail: string
  /** Stable code, e.g. `CONFIRMA_VALIDATION`. */
  readonly code: ErrorCode | string
  /** snake_case kind. */
  readonly kind: ErrorKind | string
  /** HTTP status, or null when no response arrived. */
  readonly status: number | null
  /** The service's request id (or the one the SDK sent), or null. */
  readonly requestId: string | null
  /** Whether the same call may succeed later (the SDK already retried within its budget). */
  readonly retryable: boolean
  /** For OutcomeUnknownError: the failure that made the outcome unknown; otherwise null. */
  readonly cause: ConfirmaError | null
  /**
   * A new access token the service returned in an answer the SDK could not read completely: a create
   * answered 2xx with a token but without the client's ids (then this is an OutcomeUnknownError). The
   * client exists — store `recoveredToken.reveal()` as its token. Redacted when printed; null otherwise.
   */
  readonly recoveredToken: SecretToken | null
  /**
   * A 2xx create or renew answer that could not be read, kept whole as a secret (it may hold a new token
   * in a shape the SDK does not know). Redacted when printed; null otherwise.
   */
  readonly rawResponse: SecretToken | null
}

/** The request is invalid: fix it and retry. */
export declare class ValidationError extends ConfirmaError {
  static readonly kind: 'validation'
  static readonly code: 'CONFIRMA_VALIDATION'
  readonly code: 'CONFIRMA_VALIDATION'
  /** Field path (`client.email`, `contacts[0].name`, `token`) → problems. */
  readonly fieldErrors: Readonly<Record<string, string[]>>
  /** `'client'`: found before sending; `'server'`: reported by the service. */
  readonly source: 'client' | 'server'
}
/** 401: the token is missing, unknown, revoked or for another environment. */
export declare class AuthenticationError extends ConfirmaError {
  readonly code: 'CONFIRMA_AUTHENTICATION'
}
/** 403: the token may not do this. */
export declare class PermissionDeniedError extends ConfirmaError {
  readonly code: 'CONFIRMA_PERMISSION_DENIED'
}
/** 409: the client already exists; switch to the existing-client path. */
export declare class ConflictError extends ConfirmaError {
  readonly code: 'CONFIRMA_CONFLICT'
}
/** 429: too many requests. */
export declare class RateLimitError extends ConfirmaError {
  readonly code: 'CONFIRMA_RATE_LIMITED'
  /** Seconds the service asked to wait (`Retry-After`), or null. */
  readonly retryAfter: number | null
  /** The same in milliseconds, or null. */
  readonly retryAfterMs: number | null
}
/** 5xx: the service failed or is unavailable. */
export declare class ServiceUnavailableError extends ConfirmaError {
  readonly code: 'CONFIRMA_SERVICE_UNAVAILABLE'
  /** Seconds the service asked to wait (`Retry-After`), or null. */
  readonly retryAfter: number | null
  /** The same in milliseconds, or null. */
  readonly retryAfterMs: number | null
}
/** The call did not finish within its time limit. */
export declare class TimeoutError extends ConfirmaError {
  readonly code: 'CONFIRMA_TIMEOUT'
}
/** The connection could not be made or broke. */
export declare class NetworkError extends ConfirmaError {
  readonly code: 'CONFIRMA_NETWORK'
  /** Whether it failed while connecting (nothing was sent), or null if unknown. */
  readonly connect: boolean | null
}
/** A create or renew failed after the request may have reached the service. Do not blindly repeat it. */
export declare class OutcomeUnknownError extends ConfirmaError {
  readonly code: 'CONFIRMA_OUTCOME_UNKNOWN'
  /** Which operation. */
  readonly operation: 'create_client' | 'renew_token' | null
  /** The failure that made the outcome unknown. */
  readonly cause: ConfirmaError
}
/** The service answered something the SDK could not understand. */
export declare class UnexpectedResponseError extends ConfirmaError {
  readonly code: 'CONFIRMA_UNEXPECTED_RESPONSE'
  /** A bounded, token-scrubbed excerpt of the body. */
  readonly bodyExcerpt: string | null
}
/** The client was configured wrongly. */
export declare class ConfigurationError extends ConfirmaError {
  readonly code: 'CONFIRMA_CONFIGURATION'
}
/** The SDK itself failed (a contained panic in the native code). Never the service's fault; please report it. */
export declare class InternalError extends ConfirmaError {
  readonly code: 'CONFIRMA_INTERNAL'
}
/** The credential store failed (unreachable, unreadable data, a missing or wrong CONFIRMA_STORE_KEY). */
export declare class StorageError extends ConfirmaError {
  readonly code: 'CONFIRMA_STORAGE'
}
/** A client's token was rotated and the new one is gone: ask Confirma Finance support for a new token. */
export declare class CredentialsLostError extends ConfirmaError {
  readonly code: 'CONFIRMA_CREDENTIALS_LOST'
}

/** The call was cancelled through its AbortSignal (`name` `'AbortError'`, `code` `'ABORT_ERR'`, `cause` = `signal.reason`). */
export declare class AbortError extends Error {
  constructor(message?: string, options?: { cause?: unknown; outcomeUnknown?: boolean })
  readonly name: 'AbortError'
  readonly code: 'ABORT_ERR'
  /**
   * True when a createClient / renewToken was aborted while in flight: its request may have reached the
   * service (the client may exist, the old token may be replaced). Treat it like an OutcomeUnknownError.
   */
  readonly outcomeUnknown: boolean
}

/** Error class per kind. */
export declare const ERROR_CLASSES: {
  readonly validation: typeof ValidationError
  readonly authentication: typeof AuthenticationError
  readonly permission_denied: typeof PermissionDeniedError
  readonly conflict: typeof ConflictError
  readonly rate_limited: typeof RateLimitError
  readonly service_unavailable: typeof ServiceUnavailableError
  readonly timeout: typeof TimeoutError
  readonly network: typeof NetworkError
  readonly outcome_unknown: typeof OutcomeUnknownError
  readonly unexpected_response: typeof UnexpectedResponseError
  readonly configuration: typeof ConfigurationError
  readonly internal: typeof InternalError
  readonly storage: typeof StorageError
  readonly credentials_lost: typeof CredentialsLostError
}

// ------------------------------------------------------------------------------------------------
// Client

/**
 * The CFIS onboarding client. Reuse one per environment (it holds a connection pool). Methods return
 * Promises, never block the event loop, may run concurrently, and accept `{ signal }` last.
 *
 * @throws {TypeError} if `options` is not an object.
 * @throws {ConfigurationError} for a bad option (unknown key, wrong type, bad URL/proxy/certificate).
 */
export declare class OnboardingClient {
  constructor(options: OnboardingClientOptions)
  /** The base URL requests go to (ends with `/`). */
  readonly baseUrl: string
  /** The User-Agent header sent with every request. */
  readonly userAgent: string
  /**
   * Creates a client account with the Partner Provisioning Token.
   * Rejects with ValidationError (before sending, with field paths), AuthenticationError, PermissionDeniedError,
   * ConflictError (the client exists), OutcomeUnknownError (do not blindly repeat) or a transient error.
   * A 2xx answer with a token but without the client's ids rejects with OutcomeUnknownError whose
   * `recoveredToken` is the new client's token: store it.
   */
  createClient(provisioningToken: TokenLike, newClient: NewClient, options?: CallOptions): Promise<CreatedClient>
  /** Checks an access token; an unknown or expired token resolves with `isValid: false`. */
  validateToken(token: TokenLike, options?: CallOptions): Promise<TokenStatus>
  /** Renews an access token (an expired one too); the old token stops working. */
  renewToken(token: TokenLike, options?: CallOptions): Promise<RenewedToken>
}

/** This package's version. */
export declare const VERSION: string
/** The Rust core's version. */
export declare const CORE_VERSION: string
