// Public TypeScript API of confirma-sdk. The native layer's declarations (`native.d.ts`) are generated
// by napi-rs at build time; this file types the thin JavaScript layer over them.

import type { inspect } from 'node:util'
import { EventEmitter } from 'node:events'
import type { FieldIssue, FormLanguage } from './form'

export * from './form'

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
  /** The language of validation issues' `userMessage`: `'fi'`, `'sv'` or `'en'` (default). Developer texts stay English. */
  language?: FormLanguage
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
  /** The same problems, each with a stable code, parameters and the end-user text in the client's `language`. */
  readonly issues: readonly FieldIssue[]
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
  createClient(provisioningToken: TokenLike, newClient: NewClient, options?: CreateClientOptions): Promise<CreatedClient>
  /** Checks an access token; an unknown or expired token resolves with `isValid: false`. */
  validateToken(token: TokenLike, options?: CallOptions): Promise<TokenStatus>
  /** Renews an access token (an expired one too); the old token stops working. */
  renewToken(token: TokenLike, options?: CallOptions): Promise<RenewedToken>
}

/** Options of `createClient`. */
export interface CreateClientOptions extends CallOptions, StoreKeyOptions {
  /**
   * Persist the new client's credentials in this store (through the core's TokenManager): a
   * pending-create record is written before the request and the credentials are committed before the
   * promise resolves, so the token can never be lost. The key options apply to a partner's store.
   */
  store?: AnyCredentialStore
}

// ------------------------------------------------------------------------------------------------
// Token lifecycle: stores

/**
 * The store key. Tokens are sealed with AES-256-GCM under `key` (base64 of 32 bytes); absent, the
 * `CONFIRMA_STORE_KEY` environment variable is used; with neither, opening fails with a StorageError
 * unless `plaintext: true` opts into storing tokens in clear. Keys are never shown by inspect/toString/JSON.
 */
export interface StoreKeyOptions {
  key?: string
  /** Earlier keys (key rotation): records sealed under them are still read, and resealed under `key`. */
  previousKeys?: string[]
  /** Store tokens in clear when there is no key: the explicit opt-in. */
  plaintext?: boolean
}

/** The SDK's embedded SQLite store: one file, safe for many processes on one host. */
export declare class SqliteStore {
  private constructor()
  /** Opens (creates) the store file. @throws {StorageError} for a missing/bad key or an unusable file. */
  static open(path: string, options?: StoreKeyOptions): SqliteStore
  /** `sqlite:<path>`. */
  readonly description: string
  /** Whether tokens are encrypted at rest. */
  readonly encrypted: boolean
}

/** The SDK's PostgreSQL store, for fleets across hosts. The DSN's password never shows. */
export declare class PostgresStore {
  private constructor()
  /** Connects (creating the schema if needed). */
  static connect(dsn: string, options?: StoreKeyOptions & CallOptions): Promise<PostgresStore>
  readonly description: string
  readonly encrypted: boolean
}

/** A store in this process's memory only. Sealed under the key given (or `CONFIRMA_STORE_KEY`), else under a random key of this store; in clear only with `plaintext: true`. */
export declare class MemoryStore {
  constructor(options?: StoreKeyOptions)
  readonly description: string
  readonly encrypted: boolean
}

/** One credential as a partner's store keeps it (table `confirma_credentials`, key `(environment, clientId)`). */
export interface StoreRow {
  environment: string
  clientId: string
  /** The record's revision (compare-and-set). */
  revision: number
  /** The record, encoded by the SDK (versioned JSON; the token only sealed). Store it as it is. */
  data: string
}

/** One event as a partner's store keeps it (table `confirma_events`). */
export interface EventRow {
  /** The store's increasing sequence number (0 when written: assign one, e.g. an auto-increment). */
  seq: number
  environment: string
  clientId: string
  /** Epoch milliseconds. */
  at: number
  /** `rotated`, `lost`, … */
  kind: string
  /** Fingerprints and details (JSON), never a token. */
  data: string
}

/**
 * A credential store written by you, over your own database: seven async methods over two tables,
 * `confirma_credentials(environment, client_id, revision, data)` (primary key environment + client_id) and
 * `confirma_events(seq auto-increment, environment, client_id, at, kind, data)`. `insert`,
 * `compareAndSwap` and `delete` write the row and append the events in ONE transaction. The SDK encodes
 * and checks everything else; test your store with {@link checkStore}. A method that throws or rejects
 * makes the SDK call fail with a (retryable) StorageError and nothing is lost; rows may also use
 * snake_case keys (`client_id`).
 */
export interface CredentialStore {
  /** The row for `(environment, clientId)`, or null/undefined. */
  load(environment: string, clientId: string): Promise<StoreRow | null | undefined>
  /** Inserts `row` and appends `events`; false (nothing written) if a row exists for its key. */
  insert(row: StoreRow, events: EventRow[]): Promise<boolean>
  /**
   * `UPDATE … SET revision = row.revision, data = row.data WHERE environment = ? AND client_id = ? AND
   * revision = expectedRevision` plus the events, in one transaction; true iff one row changed.
   */
  compareAndSwap(expectedRevision: number, row: StoreRow, events: EventRow[]): Promise<boolean>
  /** Deletes the row iff its revision is `expectedRevision`, appending `events`; true iff deleted. */
  delete(environment: string, clientId: string, expectedRevision: number, events: EventRow[]): Promise<boolean>
  /** Every row, or those of one environment. */
  list(environment: string | null): Promise<StoreRow[]>
  /** Events with `seq > afterSeq`, oldest first, at most `limit`; of one record (both given) or all. */
  events(environment: string | null, clientId: string | null, afterSeq: number, limit: number): Promise<EventRow[]>
  /** A description for logs (never a password). Optional. */
  describe?(): string
}

/** Any store a TokenManager takes. */
export type AnyCredentialStore = SqliteStore | PostgresStore | MemoryStore | CredentialStore

/** The result of {@link checkStore}. */
export interface StoreCheckReport {
  /** The checks that passed. */
  readonly passed: readonly string[]
}

/**
 * Runs the SDK's store conformance suite against `store` (empty): the test for a CredentialStore you wrote.
 * @throws {StorageError} naming the failed check.
 */
export declare function checkStore(store: AnyCredentialStore, options?: CallOptions): Promise<StoreCheckReport>

// ------------------------------------------------------------------------------------------------
// Token lifecycle: the manager

/**
 * TokenManager options. Every one optional (absent = the core's default); durations in milliseconds;
 * values are checked by the core (a bad one is a ConfigurationError naming it). The key options apply
 * to a partner's store (the SDK's stores carry their own key).
 */
export interface TokenManagerOptions extends StoreKeyOptions {
  /** With no known expiry, renew this often (default 24 h). */
  renewEveryMs?: number
  /** With a known lifetime, renew at this fraction of it (default 2/3; above 0, below 1). */
  renewAtFraction?: number
  /** Spread of renewal times, both ways, as a fraction of the interval (default 0.1; 0 to 0.5). */
  jitter?: number
  /** How long a renewal claim holds (default: the client's total timeout + 30 s). */
  leaseMs?: number
  /** Validate a stored token on first use unless an instance did within this (default 1 h). */
  validateIntervalMs?: number
  /** The first back-off after a failed renewal (default 30 s). */
  failureBackoffMs?: number
  /** The longest back-off (default 1 h). */
  failureBackoffMaxMs?: number
  /** How often to re-read the store while another instance holds the lease (default 100 ms). */
  pollIntervalMs?: number
  /** This instance's name in leases and events (default `<host>/<pid>/<random>`). */
  owner?: string
}

/** `active`, `renewing`, `ambiguous`, `lost`, `creating`. */
export type CredentialState = 'active' | 'renewing' | 'ambiguous' | 'lost' | 'creating' | (string & {})
/** `healthy`, `degraded` (renewals fail, or one is being reconciled), `lost` (ask support for a new token). */
export type CredentialHealth = 'healthy' | 'degraded' | 'lost'

/** A credential's status: everything but the token. */
export interface CredentialStatus {
  /** `staging`, `production` or the custom base URL. */
  readonly environment: string
  readonly clientId: string
  readonly customerCode: string
  readonly paymentReferencePrefix: string
  readonly state: CredentialState
  readonly health: CredentialHealth
  /** How many tokens this credential has had. */
  readonly tokenVersion: number
  /** The current token's fingerprint (safe to log). */
  readonly fingerprint: string
  readonly lastRenewedAt: Date | null
  readonly expiresAt: Date | null
  readonly nextRenewAt: Date | null
  readonly lastValidatedAt: Date | null
  /** Failed renewals in a row. */
  readonly consecutiveFailures: number
  /** The last failure's error code. */
  readonly lastError: string | null
  readonly leaseHolder: string | null
  readonly leaseExpiresAt: Date | null
  /** Whether the store encrypts tokens. */
  readonly encrypted: boolean
}

/** snake_case kinds of {@link TokenEvent}. */
export type TokenEventKind =
  | 'created' | 'imported' | 'validated' | 'renew_started' | 'rotated' | 'renew_failed' | 'ambiguous'
  | 'reconciled' | 'lost' | 'create_started' | 'create_finished'

/** Something that happened to a credential. Fingerprints only, never tokens. */
export interface TokenEvent {
  /** snake_case kind (`renew_failed`); the event's name is its camelCase form (`renewFailed`). */
  readonly kind: TokenEventKind
  readonly environment: string
  readonly clientId: string
  /** The token version after it. */
  readonly tokenVersion: number
  /** The fingerprint of the token concerned. */
  readonly fingerprint: string
  /** The renewal attempt, if any. */
  readonly attemptId: string | null
  /** Details (an error code, the reconciliation's reasoning). */
  readonly detail: string
  readonly at: Date
}

/** The events a TokenManager emits. */
export interface TokenManagerEvents {
  rotated: [TokenEvent]
  renewFailed: [TokenEvent]
  ambiguous: [TokenEvent]
  reconciled: [TokenEvent]
  lost: [TokenEvent]
  created: [TokenEvent]
  imported: [TokenEvent]
  validated: [TokenEvent]
  renewStarted: [TokenEvent]
  createStarted: [TokenEvent]
  createFinished: [TokenEvent]
  /** Every event. */
  event: [TokenEvent]
}

/** `importCredentials` options. */
export interface ImportOptions extends CallOptions {
  customerCode?: string
  paymentReferencePrefix?: string
}

/**
 * Keeps access tokens alive over a credential store — crash-safe and fleet-safe (one renewal per window
 * across every process sharing the store). Create one per process and environment, and share it. Events
 * are forwarded without keeping the process alive. Aborting a call's signal only stops waiting: a
 * rotation in progress completes and is persisted.
 *
 * @throws {ConfigurationError} for a bad option; {@link StorageError} for a missing key.
 */
export declare class TokenManager extends EventEmitter<TokenManagerEvents> {
  constructor(client: OnboardingClient, store: AnyCredentialStore, options?: TokenManagerOptions)
  /** This instance's name in leases and events. */
  readonly owner: string
  /** The environment its records belong to. */
  readonly environment: string
  /**
   * A usable token: from memory without I/O in the common case; when due, renewed (or another instance's
   * renewal adopted) before it is returned, so it is never a token being rotated away.
   * @throws {CredentialsLostError} when the token was rotated and the new one is gone.
   * @throws {StorageError} when the store fails (retryable).
   */
  token(clientId: string, options?: CallOptions): Promise<SecretToken>
  /** The status of `clientId`'s credentials (no token). */
  status(clientId: string, options?: CallOptions): Promise<CredentialStatus>
  /** Every credential of this environment. */
  statuses(options?: CallOptions): Promise<CredentialStatus[]>
  /** Imports an existing client's token (validated first); replaces what is stored for the client. */
  importCredentials(clientId: string, token: TokenLike, options?: ImportOptions): Promise<CredentialStatus>
  /** Renews now, under the lease (another instance's renewal is waited for and its token taken). */
  renewNow(clientId: string, options?: CallOptions): Promise<CredentialStatus>
  /** Reconciles every ambiguous or abandoned record; their statuses afterwards. */
  reconcile(options?: CallOptions): Promise<CredentialStatus[]>
  /** Creates a client; its credentials are committed to the store before this resolves. */
  createClient(provisioningToken: TokenLike, newClient: NewClient, options?: CallOptions): Promise<CreatedClient>
  /** Stops forwarding events; later calls reject. Renewals already running complete and persist. */
  close(): Promise<void>
}

/** This package's version. */
export declare const VERSION: string
/** The Rust core's version. */
export declare const CORE_VERSION: string
