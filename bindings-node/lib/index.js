'use strict'
// confirma-sdk — the public JavaScript API over the native (napi-rs) addon.
//
// This layer only translates: it checks argument *types*, turns the native result objects into
// values / exported error classes, wraps tokens in SecretToken and wires AbortSignal to a native
// cancel handle. Option values (spellings, defaults, bounds), the User-Agent, validation, retries,
// error parsing and redaction all happen in the Rust core.

const { inspect } = require('node:util')
const native = require('./binding.js').load()
const formKit = require('./form.js')
const { version: VERSION } = require('../package.json')

const REDACTED = '[REDACTED]'
const DESCRIBE_CONFIG = Symbol.for('confirma-sdk.describeConfig')
const inspectCustom = inspect.custom

// ---------------------------------------------------------------------------------------------
// SecretToken

/**
 * An API token (a client access token or the Partner Provisioning Token). Its value never shows in
 * `toString()`, template literals, `JSON.stringify`, `util.inspect` or `console.log`; read it with
 * `reveal()` only where it must leave the program (your database).
 */
class SecretToken {
  #value

  constructor (value) {
    if (value instanceof SecretToken) value = value.reveal()
    if (typeof value !== 'string') {
      throw new TypeError(`SecretToken value must be a string (received ${describe(value)})`)
    }
    this.#value = value
    Object.freeze(this)
  }

  /** Wraps a string (a SecretToken is returned as it is). */
  static from (value) {
    return value instanceof SecretToken ? value : new SecretToken(value)
  }

  /** The raw token. */
  reveal () {
    return this.#value
  }

  /** Whether both hold the same token (compared in constant time for equal lengths). */
  equals (other) {
    const a = this.#value
    const b = other instanceof SecretToken ? other.reveal() : other
    if (typeof b !== 'string' || a.length !== b.length) return false
    let diff = 0
    for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
    return diff === 0
  }

  toString () {
    return REDACTED
  }

  toJSON () {
    return REDACTED
  }

  [Symbol.toPrimitive] () {
    return REDACTED
  }

  get [Symbol.toStringTag] () {
    return 'SecretToken'
  }

  [inspectCustom] () {
    return `SecretToken(${REDACTED})`
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Base class of every error the SDK reports for a failed call. */
class ConfirmaError extends Error {
  constructor (message, details = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined)
    /** The error's own message, without the kind prefix and HTTP status `message` adds. */
    this.detail = details.detail ?? message
    /** Stable machine-readable code, e.g. `CONFIRMA_VALIDATION`. */
    this.code = details.code ?? this.constructor.code ?? 'CONFIRMA_ERROR'
    /** snake_case kind, as in the scenario files (`permission_denied`). */
    this.kind = details.kind ?? this.constructor.kind ?? 'unknown'
    /** HTTP status of the response, or null when none arrived. */
    this.status = details.status ?? null
    /** The service's request id (or the one the SDK sent), or null. */
    this.requestId = details.requestId ?? null
    /** Whether the same call may succeed later (the SDK already retried within its budget). */
    this.retryable = details.retryable ?? false
    /**
     * A new access token the service returned in an answer the SDK could not read completely (a create
     * answered 2xx with a token but without the client's ids): the client exists, store this token.
     * A SecretToken (redacted when printed), or null.
     */
    this.recoveredToken = secretOrNull(details.recoveredToken)
    /**
     * A success answer of a create or renew that could not be read, kept whole as a SecretToken (it may
     * hold a new token in a shape the SDK does not know), or null.
     */
    this.rawResponse = secretOrNull(details.rawResponse)
    if (details.cause === undefined) this.cause = null
  }
}

function secretOrNull (v) {
  return v === undefined || v === null ? null : SecretToken.from(v)
}

function defineErrorClass (name, kind, extra) {
  const Base = extra?.base ?? ConfirmaError
  const cls = {
    [name]: class extends Base {
      constructor (message, details = {}) {
        super(message, details)
        extra?.init?.call(this, details)
      }
    }
  }[name]
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true })
  Object.defineProperty(cls, 'kind', { value: kind })
  Object.defineProperty(cls, 'code', { value: `CONFIRMA_${kind.toUpperCase()}` })
  return cls
}
Object.defineProperty(ConfirmaError.prototype, 'name', { value: 'ConfirmaError', writable: true, configurable: true })

function initRetryAfter (d) {
  /** Seconds the service asked to wait before retrying (`Retry-After`), or null. */
  this.retryAfter = d.retryAfterMs == null ? (d.retryAfter ?? null) : d.retryAfterMs / 1000
  /** The same in milliseconds, or null. */
  this.retryAfterMs = d.retryAfterMs ?? (d.retryAfter == null ? null : d.retryAfter * 1000)
}

/** The request is invalid (found by the SDK before sending, or by the service). */
const ValidationError = defineErrorClass('ValidationError', 'validation', {
  init (d) {
    /** Field path (`client.email`, `contacts[0].name`) → problems. */
    this.fieldErrors = Object.freeze({ ...(d.fieldErrors ?? {}) })
    /** `'client'` (found before sending) or `'server'`. */
    this.source = d.source ?? 'client'
    /**
     * The same problems as FieldIssues: a stable `code` and its `params` per problem, the developer text
     * (`message`) and the end-user text in the client's `language` (`userMessage`).
     */
    this.issues = Object.freeze((d.issues ?? []).map(formKit.fieldIssue))
  }
})
/** 401: the token is missing, unknown, revoked or for another environment. */
const AuthenticationError = defineErrorClass('AuthenticationError', 'authentication')
/** 403: the token may not do this (a client token used to create a client, ...). */
const PermissionDeniedError = defineErrorClass('PermissionDeniedError', 'permission_denied')
/** 409: the client already exists; use the existing-client path (validate or renew its token). */
const ConflictError = defineErrorClass('ConflictError', 'conflict')
/** 429: too many requests; see `retryAfter`. */
const RateLimitError = defineErrorClass('RateLimitError', 'rate_limited', { init: initRetryAfter })
/** 5xx: the service failed or is unavailable; see `retryAfter`. */
const ServiceUnavailableError = defineErrorClass('ServiceUnavailableError', 'service_unavailable', { init: initRetryAfter })
/** The call did not finish within its time limit. */
const TimeoutError = defineErrorClass('TimeoutError', 'timeout')
/** The connection could not be made or broke. */
const NetworkError = defineErrorClass('NetworkError', 'network', {
  init (d) {
    /** Whether it failed while connecting (the request was certainly not sent), or null if unknown. */
    this.connect = d.connect ?? null
  }
})
/**
 * A create or renew failed after the request may have reached the service: it may or may not have
 * taken effect. Do not blindly repeat it; `cause` is the failure that made the outcome unknown.
 */
const OutcomeUnknownError = defineErrorClass('OutcomeUnknownError', 'outcome_unknown', {
  init (d) {
    /** `'create_client'` or `'renew_token'`. */
    this.operation = d.operation ?? null
  }
})
/** The service answered something the SDK could not understand. */
const UnexpectedResponseError = defineErrorClass('UnexpectedResponseError', 'unexpected_response', {
  init (d) {
    /** A bounded, token-scrubbed excerpt of the body. */
    this.bodyExcerpt = d.bodyExcerpt ?? null
  }
})
/** The client was configured wrongly (bad option, base URL, proxy or certificate). */
const ConfigurationError = defineErrorClass('ConfigurationError', 'configuration')
/**
 * The SDK itself failed (a panic in the native code was contained, or a result could not be handed
 * over). Never the service's fault; please report it.
 */
const InternalError = defineErrorClass('InternalError', 'internal')
/**
 * The credential store failed: unreachable, unreadable data, or a missing or wrong encryption key
 * (`CONFIRMA_STORE_KEY`). `retryable` says whether trying again later may help.
 */
const StorageError = defineErrorClass('StorageError', 'storage')
/**
 * A client's token was rotated and the new one is gone, or no stored token is accepted any more. Never a
 * dead token served silently: ask Confirma Finance support for a new token, then import it.
 */
const CredentialsLostError = defineErrorClass('CredentialsLostError', 'credentials_lost')

const ERROR_CLASSES = {
  validation: ValidationError,
  authentication: AuthenticationError,
  permission_denied: PermissionDeniedError,
  conflict: ConflictError,
  rate_limited: RateLimitError,
  service_unavailable: ServiceUnavailableError,
  timeout: TimeoutError,
  network: NetworkError,
  outcome_unknown: OutcomeUnknownError,
  unexpected_response: UnexpectedResponseError,
  configuration: ConfigurationError,
  internal: InternalError,
  storage: StorageError,
  credentials_lost: CredentialsLostError
}

/**
 * The call was cancelled through its `AbortSignal`. Like Node's own abort errors: `name` is
 * `'AbortError'`, `code` is `'ABORT_ERR'` and `cause` is the signal's `reason`. Not a ConfirmaError.
 */
class AbortError extends Error {
  constructor (message = 'The operation was aborted', options = undefined) {
    super(message, options)
    this.code = 'ABORT_ERR'
    /**
     * True when a createClient / renewToken was aborted while in flight: its request may have reached
     * the service, so the client may exist / the old token may already be replaced. Treat it like an
     * OutcomeUnknownError. False when nothing was sent (already-aborted signal) or for validateToken.
     */
    this.outcomeUnknown = options?.outcomeUnknown === true
  }
}
Object.defineProperty(AbortError.prototype, 'name', { value: 'AbortError', writable: true, configurable: true })

function fromNative (e) {
  const Cls = ERROR_CLASSES[e.kind] ?? ConfirmaError
  const cause = e.cause && e.cause.length > 0 ? fromNative(e.cause[0]) : undefined
  return new Cls(e.message, {
    detail: e.detail,
    code: e.code,
    kind: e.kind,
    status: e.status ?? null,
    requestId: e.requestId ?? null,
    retryable: e.retryable,
    retryAfterMs: e.retryAfterMs ?? null,
    fieldErrors: e.fieldErrors,
    issues: e.issues,
    source: e.source,
    bodyExcerpt: e.bodyExcerpt,
    operation: e.operation,
    connect: e.connect,
    recoveredToken: e.recoveredToken,
    rawResponse: e.rawResponse,
    cause
  })
}

/**
 * A native call failed in a way the native layer could not report as data (a panic caught by napi's
 * own guard, a result that could not be converted): an InternalError, never a raw Error.
 */
function internalFrom (e) {
  if (e instanceof ConfirmaError || e instanceof AbortError) return e
  const detail = e instanceof Error ? e.message : String(e)
  return new InternalError(`internal error: the SDK failed internally; please report this (${detail})`, { cause: e })
}

/** Calls the native layer; anything it throws becomes an InternalError. */
function guarded (fn) {
  try {
    return fn()
  } catch (e) {
    throw internalFrom(e)
  }
}

/** A native promise's rejection (not a result object) becomes an InternalError. */
function rethrowInternal (e) {
  throw internalFrom(e)
}

/** Awaits a native promise; a rejection (not a result object) becomes an InternalError. */
function settled (promise) {
  return promise.then(undefined, rethrowInternal)
}

/**
 * The hot path of the client's calls without a signal: `nativeClient[method](token[, body])` and one `then`
 * that turns the result object into the value or throws the error (`onOutcome`) — no `async` frame and no
 * closure per call. A native call that throws (instead of resolving to a result object) rejects with an
 * InternalError, as through `guarded` + `settled`.
 */
function nativeCall (nativeClient, method, token, body, onOutcome) {
  let promise
  try {
    promise = body === undefined ? nativeClient[method](token) : nativeClient[method](token, body)
  } catch (e) {
    return Promise.reject(internalFrom(e))
  }
  return promise.then(onOutcome, rethrowInternal)
}

// ---------------------------------------------------------------------------------------------
// Argument translation

function describe (v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' ? 'an object' : `type ${typeof v}`
}

/** string | SecretToken → string; null/undefined → '' (the core reports "<name>: is required"). */
function tokenArg (token, name) {
  if (token instanceof SecretToken) return token.reveal()
  if (typeof token === 'string') return token
  if (token === undefined || token === null) return ''
  throw new TypeError(`${name} must be a string or a SecretToken (received ${describe(token)})`)
}

function newClientArg (newClient) {
  let json
  try {
    json = JSON.stringify(newClient === undefined ? null : newClient)
  } catch (e) {
    throw new TypeError(`newClient must be a plain, JSON-serialisable object: ${e.message}`)
  }
  return json === undefined ? 'null' : json
}

function signalArg (options) {
  if (options === undefined || options === null) return undefined
  if (typeof options !== 'object') {
    throw new TypeError(`options must be an object like { signal } (received ${describe(options)})`)
  }
  const signal = options.signal
  if (signal === undefined || signal === null) return undefined
  if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function') {
    throw new TypeError('options.signal must be an AbortSignal')
  }
  return signal
}

function abortError (signal, outcomeUnknown = false) {
  return new AbortError(
    outcomeUnknown
      ? 'The operation was aborted after its request may have been sent: its outcome is unknown'
      : 'The operation was aborted',
    { cause: signal.reason, outcomeUnknown }
  )
}

const OPTION_KEYS = new Set([
  'environment', 'baseUrl', 'timeoutMs', 'connectTimeoutMs', 'totalTimeoutMs', 'maxRetries',
  'maxResponseBytes', 'validation', 'userAgentSuffix', 'proxy', 'rootCertificatesPem', 'language'
])

function nativeOptions (options) {
  if (options === undefined) options = {}
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`OnboardingClient options must be an object (received ${describe(options)})`)
  }
  const bad = (msg) => new ConfigurationError(`configuration error: ${msg}`)
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw bad(`unknown option \`${key}\``)
  }
  const out = {}
  const str = (key, allowUrl = false) => {
    const v = options[key]
    if (v === undefined || v === null) return
    if (allowUrl && v instanceof URL) out[key] = v.href
    else if (typeof v === 'string') out[key] = v
    else throw bad(`${key} must be a string (received ${describe(v)})`)
  }
  // Only the type is checked here; the value (NaN, Infinity, <= 0, over 24 hours, not an integer, out of
  // range) is judged by the core.
  const num = (key, what) => {
    const v = options[key]
    if (v === undefined || v === null) return
    if (typeof v !== 'number') throw bad(`${key} must be ${what} (received ${describe(v)})`)
    out[key] = v
  }
  str('environment')
  str('baseUrl', true)
  num('timeoutMs', 'a number of milliseconds')
  num('connectTimeoutMs', 'a number of milliseconds')
  num('totalTimeoutMs', 'a number of milliseconds')
  num('maxRetries', 'an integer')
  num('maxResponseBytes', 'an integer number of bytes')
  str('validation')
  str('language')
  str('userAgentSuffix')
  str('proxy', true)
  const pem = options.rootCertificatesPem
  if (pem !== undefined && pem !== null) {
    if (Buffer.isBuffer(pem)) out.rootCertificatesPem = pem.toString('utf8')
    else if (typeof pem === 'string') out.rootCertificatesPem = pem
    else throw bad('rootCertificatesPem must be a string or a Buffer')
  }
  // Who is calling: the core composes the User-Agent from these.
  out.nodeVersion = process.versions.node
  out.bindingVersion = VERSION
  return out
}

// ---------------------------------------------------------------------------------------------
// Results

function createdClient (c) {
  return Object.freeze({
    clientId: c.clientId,
    customerCode: c.customerCode,
    paymentReferencePrefix: c.paymentReferencePrefix,
    accessToken: new SecretToken(c.accessToken),
    tokenExpiresAt: c.tokenExpiresAtMs == null ? null : new Date(c.tokenExpiresAtMs)
  })
}

function tokenStatus (s) {
  return Object.freeze({ isValid: s.isValid, expired: s.expired, message: s.message })
}

function renewedToken (r) {
  return Object.freeze({
    accessToken: new SecretToken(r.accessToken),
    expiresAt: r.expiresAtMs == null ? null : new Date(r.expiresAtMs)
  })
}

function createdOutcome (outcome) {
  if (outcome.ok) return createdClient(outcome.created)
  throw failure(outcome)
}

function statusOutcome (outcome) {
  if (outcome.ok) return tokenStatus(outcome.status)
  throw failure(outcome)
}

function renewedOutcome (outcome) {
  if (outcome.ok) return renewedToken(outcome.renewed)
  throw failure(outcome)
}

function failure (outcome) {
  if (outcome.error) return fromNative(outcome.error)
  // `aborted` without our own abort cannot happen; report it rather than resolve with nothing.
  return new AbortError('The operation was cancelled')
}

/**
 * Runs a native call that `signal` can abort (`invoke(handle)` starts it). `mutating` (create, renew): an
 * abort while the call is in flight may come after the request was sent, so its AbortError says
 * `outcomeUnknown: true`. Without a signal, the call simply runs.
 */
function withSignal (signal, invoke, mutating = false) {
  if (signal === undefined) return settled(guarded(() => invoke(undefined)))
  if (signal.aborted) return Promise.reject(abortError(signal))
  let handle, call
  try {
    handle = new native.CancelHandle()
    call = settled(invoke(handle))
  } catch (e) {
    return Promise.reject(internalFrom(e))
  }
  return new Promise((resolve, reject) => {
    let done = false
    const onAbort = () => {
      if (done) return
      // Drops the in-flight Rust future (and its HTTP request) at once. `false` means the call had
      // already completed: its outcome (say, a renewed token) is on its way and is delivered instead.
      if (!handle.cancel()) return
      done = true
      reject(abortError(signal, mutating))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    call.then(
      (outcome) => {
        signal.removeEventListener('abort', onAbort)
        if (done) return
        done = true
        resolve(outcome)
      },
      (err) => {
        signal.removeEventListener('abort', onAbort)
        if (done) return
        done = true
        reject(err)
      }
    )
  })
}

// ---------------------------------------------------------------------------------------------
// Client

/** OnboardingClient → its native client (for the TokenManager). */
const NATIVE_CLIENTS = new WeakMap()

/**
 * The CFIS onboarding client. Create one per environment and reuse it: it holds a connection pool.
 * Every method returns a Promise, never blocks the event loop, and accepts `{ signal }` last.
 */
class OnboardingClient {
  #native

  constructor (options) {
    const opts = nativeOptions(options)
    const built = guarded(() => native.newNativeClient(opts))
    if (!(built instanceof native.NativeClient)) throw fromNative(built)
    this.#native = built
    NATIVE_CLIENTS.set(this, built)
  }

  /** The base URL requests go to (ends with `/`). */
  get baseUrl () {
    return guarded(() => this.#native.baseUrl)
  }

  /** The User-Agent header sent with every request. */
  get userAgent () {
    return guarded(() => this.#native.userAgent)
  }

  /**
   * Creates a client account with the Partner Provisioning Token. Validated before sending; never
   * creates a second client on retry. Resolves to the new client's ids and first access token.
   */
  createClient (provisioningToken, newClient, options) {
    // Not `async`: the hot path is one native call and one `then` (see `nativeCall`); anything thrown here
    // (a bad argument) is still a rejection, as from an `async` function.
    try {
      const token = tokenArg(provisioningToken, 'provisioningToken')
      const body = newClientArg(newClient)
      const signal = signalArg(options)
      if (options?.store !== undefined && options.store !== null) {
        // Through the core's TokenManager: the credentials are committed to the store before this resolves.
        const store = lifecycle.nativeStoreOf(options.store)
        const key = lifecycle.keyOptions(options, 'createClient options')
        return withSignal(signal, (h) => native.createClientWithStore(this.#native, store, key, token, body, h), true)
          .then(createdOutcome)
      }
      if (signal === undefined) return nativeCall(this.#native, 'createClient', token, body, createdOutcome)
      return withSignal(signal, (h) => this.#native.createClient(token, body, h), true).then(createdOutcome)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Checks an access token. An unknown or expired token resolves with `isValid: false`. */
  validateToken (token, options) {
    try {
      const t = tokenArg(token, 'token')
      const signal = signalArg(options)
      if (signal === undefined) return nativeCall(this.#native, 'validateToken', t, undefined, statusOutcome)
      return withSignal(signal, (h) => this.#native.validateToken(t, h), false).then(statusOutcome)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Renews an access token (an expired one too); the old token stops working. */
  renewToken (token, options) {
    try {
      const t = tokenArg(token, 'token')
      const signal = signalArg(options)
      if (signal === undefined) return nativeCall(this.#native, 'renewToken', t, undefined, renewedOutcome)
      return withSignal(signal, (h) => this.#native.renewToken(t, h), true).then(renewedOutcome)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  [inspectCustom] () {
    return `OnboardingClient { baseUrl: '${this.baseUrl}' }`
  }

  /** Not part of the public API: the effective configuration as the core describes it (parity tests). */
  get [DESCRIBE_CONFIG] () {
    return JSON.parse(guarded(() => this.#native.describeConfig()))
  }
}

const lifecycle = require('./lifecycle.js')({
  native,
  SecretToken,
  ConfigurationError,
  StorageError,
  fromNative,
  guarded,
  failure,
  withSignal,
  signalArg,
  tokenArg,
  newClientArg,
  createdClient,
  describe,
  nativeClientOf (client) {
    const n = client instanceof OnboardingClient ? NATIVE_CLIENTS.get(client) : undefined
    if (n === undefined) throw new TypeError(`client must be an OnboardingClient (received ${describe(client)})`)
    return n
  }
})

const form = formKit({ native, fromNative, guarded, describe, ConfigurationError })

module.exports = {
  OnboardingClient,
  formSchema: form.formSchema,
  validateForm: form.validateForm,
  missingFields: form.missingFields,
  messageCatalog: form.messageCatalog,
  TokenManager: lifecycle.TokenManager,
  SqliteStore: lifecycle.SqliteStore,
  PostgresStore: lifecycle.PostgresStore,
  MemoryStore: lifecycle.MemoryStore,
  checkStore: lifecycle.checkStore,
  SecretToken,
  ConfirmaError,
  ValidationError,
  AuthenticationError,
  PermissionDeniedError,
  ConflictError,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
  NetworkError,
  OutcomeUnknownError,
  UnexpectedResponseError,
  ConfigurationError,
  InternalError,
  StorageError,
  CredentialsLostError,
  AbortError,
  ERROR_CLASSES,
  VERSION,
  CORE_VERSION: native.coreVersion()
}

// Not part of the public API: makes the native layer panic on purpose (`'sync'` in the export,
// `'async'` in the spawned call), so the tests can prove a panic surfaces as an InternalError.
Object.defineProperty(module.exports, Symbol.for('confirma-sdk.panicProbe'), {
  value: async (mode) => {
    const outcome = await settled(guarded(() => native.panicProbe(String(mode))))
    throw failure(outcome)
  }
})

// Not part of the public API: one error of every kind, built by the core (`confirma::ffi::samples`), as
// the public error classes — `[name, error][]` for the cross-language parity runner.
Object.defineProperty(module.exports, Symbol.for('confirma-sdk.sampleErrors'), {
  value: () => guarded(() => native.sampleErrors()).map((s) => [s.name, fromNative(s.error)])
})

// Not part of the public API: the number of calls alive on the native runtime (an aborted call leaves at
// once, its HTTP request dropped), so the tests can check cancellation on the native side.
Object.defineProperty(module.exports, Symbol.for('confirma-sdk.activeCalls'), {
  value: () => guarded(() => native.activeCalls())
})

// Not part of the public API: makes the next `n` wake-ups of the JS thread fail as if Node-API had
// refused them, so the tests can prove that results are still delivered.
Object.defineProperty(module.exports, Symbol.for('confirma-sdk.failNextWakeups'), {
  value: (n) => guarded(() => native.failNextWakeups(n >>> 0))
})
