'use strict'
// confirma-sdk — the token lifecycle: credential stores, the TokenManager (an EventEmitter) and partner
// stores written in JavaScript. Like index.js this layer only translates: option values (defaults,
// bounds), the key (CONFIRMA_STORE_KEY), the record's encoding and the whole renewal protocol are the
// Rust core's.

const { EventEmitter } = require('node:events')
const { inspect } = require('node:util')

const inspectCustom = inspect.custom
const PRIVATE = Symbol('confirma-sdk.private')

module.exports = function lifecycle (sdk) {
  const {
    native, SecretToken, ConfigurationError, fromNative, guarded, failure, withSignal, signalArg, tokenArg,
    newClientArg, createdClient, describe, nativeClientOf
  } = sdk

  // -------------------------------------------------------------------------------------------
  // Keys and options

  /** `{ key, previousKeys, plaintext }` of `options` → the native key options (types only). */
  function keyOptions (options, what) {
    const out = {}
    if (options === undefined || options === null) return out
    if (typeof options !== 'object') throw new TypeError(`${what} must be an object (received ${describe(options)})`)
    const { key, previousKeys, plaintext } = options
    if (key !== undefined && key !== null) {
      if (typeof key !== 'string') throw new ConfigurationError(`configuration error: key must be a base64 string (received ${describe(key)})`)
      out.key = key
    }
    if (previousKeys !== undefined && previousKeys !== null) {
      if (!Array.isArray(previousKeys) || previousKeys.some((k) => typeof k !== 'string')) {
        throw new ConfigurationError('configuration error: previousKeys must be an array of base64 strings')
      }
      out.previousKeys = [...previousKeys]
    }
    if (plaintext !== undefined && plaintext !== null) {
      if (typeof plaintext !== 'boolean') throw new ConfigurationError(`configuration error: plaintext must be a boolean (received ${describe(plaintext)})`)
      out.plaintext = plaintext
    }
    return out
  }

  const KEY_OPTIONS = ['key', 'previousKeys', 'plaintext']
  const DURATIONS = ['renewEveryMs', 'leaseMs', 'validateIntervalMs', 'failureBackoffMs', 'failureBackoffMaxMs', 'pollIntervalMs']
  const FRACTIONS = ['renewAtFraction', 'jitter']
  const MANAGER_KEYS = new Set([...DURATIONS, ...FRACTIONS, 'owner', ...KEY_OPTIONS])

  /** The TokenManager's options → native options (types only; values are judged by the core). */
  function managerOptions (options) {
    if (options === undefined || options === null) options = {}
    if (typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`TokenManager options must be an object (received ${describe(options)})`)
    }
    const bad = (msg) => new ConfigurationError(`configuration error: ${msg}`)
    for (const k of Object.keys(options)) if (!MANAGER_KEYS.has(k)) throw bad(`unknown option \`${k}\``)
    const out = {}
    for (const k of [...DURATIONS, ...FRACTIONS]) {
      const v = options[k]
      if (v === undefined || v === null) continue
      if (typeof v !== 'number') throw bad(`${k} must be a number (received ${describe(v)})`)
      out[k] = v
    }
    if (options.owner !== undefined && options.owner !== null) {
      if (typeof options.owner !== 'string') throw bad(`owner must be a string (received ${describe(options.owner)})`)
      out.owner = options.owner
    }
    return { opts: out, key: keyOptions(options, 'TokenManager options') }
  }

  // -------------------------------------------------------------------------------------------
  // Stores

  /** Store object (ours or a partner's) → its native store. */
  const NATIVE_STORES = new WeakMap()
  const ROW_METHODS = ['load', 'insert', 'compareAndSwap', 'delete', 'list', 'events']

  function registered (obj, n) {
    NATIVE_STORES.set(obj, n)
    return obj
  }

  function describeStore (obj) {
    const n = NATIVE_STORES.get(obj)
    return n === undefined ? 'not connected' : guarded(() => n.describe())
  }

  /**
   * The SDK's embedded SQLite store: one file, safe for many processes on one host. Tokens are sealed
   * with AES-256-GCM under the key (`options.key`, else `CONFIRMA_STORE_KEY`); without a key, opening
   * fails with a StorageError unless `plaintext: true` opts into storing tokens in clear.
   */
  class SqliteStore {
    constructor (token) {
      if (token !== PRIVATE) throw new TypeError('use SqliteStore.open(path, options)')
    }

    /** Opens (creates) the store file. */
    static open (path, options) {
      if (typeof path !== 'string' || path.length === 0) {
        throw new TypeError(`path must be a non-empty string (received ${describe(path)})`)
      }
      const key = keyOptions(options, 'SqliteStore options')
      const n = guarded(() => native.openSqliteStore(path, key))
      if (!(n instanceof native.NativeStore)) throw fromNative(n)
      return registered(new SqliteStore(PRIVATE), n)
    }

    /** `sqlite:<path>`. */
    get description () { return describeStore(this) }
    /** Whether tokens are encrypted at rest. */
    get encrypted () { return guarded(() => NATIVE_STORES.get(this).encrypted) }
    toString () { return `SqliteStore(${this.description})` }
    toJSON () { return { store: this.description, encrypted: this.encrypted } }
    [inspectCustom] () { return `SqliteStore { ${this.description}, encrypted: ${this.encrypted} }` }
  }

  /** The SDK's PostgreSQL store, for fleets across hosts. The DSN's password never shows. */
  class PostgresStore {
    constructor (token) {
      if (token !== PRIVATE) throw new TypeError('use await PostgresStore.connect(dsn, options)')
    }

    /** Connects (creating the schema if needed). `options`: `{ key, previousKeys, plaintext, signal }`. */
    static async connect (dsn, options) {
      if (typeof dsn !== 'string' || dsn.length === 0) {
        throw new TypeError(`dsn must be a non-empty string (received ${describe(dsn)})`)
      }
      const key = keyOptions(options, 'PostgresStore options')
      const signal = signalArg(options)
      const n = guarded(() => native.newPendingStore())
      const outcome = await withSignal(signal, (h) => n.connectPostgres(dsn, key, h))
      if (!outcome.ok) throw failure(outcome)
      return registered(new PostgresStore(PRIVATE), n)
    }

    get description () { return describeStore(this) }
    get encrypted () { return guarded(() => NATIVE_STORES.get(this).encrypted) }
    toString () { return `PostgresStore(${this.description})` }
    toJSON () { return { store: this.description, encrypted: this.encrypted } }
    [inspectCustom] () { return `PostgresStore { ${this.description}, encrypted: ${this.encrypted} }` }
  }

  /**
   * A store in this process's memory (tests, one-off scripts): gone when the process ends. Tokens are
   * sealed under the key given (or `CONFIRMA_STORE_KEY`), else under a random key of this store; in clear
   * only with `plaintext: true`.
   */
  class MemoryStore {
    constructor (options) {
      const key = keyOptions(options, 'MemoryStore options')
      const n = guarded(() => native.newMemoryStore(key))
      if (!(n instanceof native.NativeStore)) throw fromNative(n)
      registered(this, n)
    }

    get description () { return describeStore(this) }
    get encrypted () { return guarded(() => NATIVE_STORES.get(this).encrypted) }
    toString () { return `MemoryStore(${this.description})` }
    toJSON () { return { store: this.description, encrypted: this.encrypted } }
    [inspectCustom] () { return `MemoryStore { encrypted: ${this.encrypted} }` }
  }

  /** A partner's `CredentialStore` object → a native store (one per object). */
  function foreignStore (store) {
    const missing = ROW_METHODS.filter((m) => typeof store[m] !== 'function')
    if (missing.length > 0) {
      throw new TypeError(`store must be a SqliteStore, PostgresStore, MemoryStore or a CredentialStore with async methods ${ROW_METHODS.join(', ')} (missing: ${missing.join(', ')})`)
    }
    let description = `partner store (${store.constructor?.name ?? 'Object'})`
    if (typeof store.describe === 'function') {
      try {
        const d = store.describe()
        if (typeof d === 'string' && d.length > 0) description = d
      } catch { /* keep the default */ }
    }
    const n = guarded(() => native.newForeignStore(...ROW_METHODS.map((m) => promised(store, m)), description))
    NATIVE_STORES.set(store, n)
    return n
  }

  function nativeStoreOf (store) {
    if (store === null || typeof store !== 'object') {
      throw new TypeError(`store must be a credential store (received ${describe(store)})`)
    }
    return NATIVE_STORES.get(store) ?? foreignStore(store)
  }

  /**
   * The partner's method `name`, called on `store` and always answering a promise: a synchronous throw
   * becomes a rejection (the native layer reads the rejection's name and message and checks the value's type).
   */
  function promised (store, name) {
    return (...args) => new Promise((resolve) => resolve(store[name](...args)))
  }

  /**
   * Runs the SDK's store conformance suite against `store` (which must be empty): the check for a
   * `CredentialStore` you wrote. Resolves to `{ passed: string[] }`; rejects with a StorageError naming
   * the failed check.
   */
  async function checkStore (store, options) {
    const n = nativeStoreOf(store)
    const outcome = await withSignal(signalArg(options), (h) => n.check(h))
    if (!outcome.ok) throw failure(outcome)
    return Object.freeze({ passed: Object.freeze(outcome.report.split('\n').filter(Boolean)) })
  }

  // -------------------------------------------------------------------------------------------
  // Results

  const date = (ms) => (ms === undefined || ms === null ? null : new Date(ms))

  function credentialStatus (s) {
    return Object.freeze({
      environment: s.environment,
      clientId: s.clientId,
      customerCode: s.customerCode,
      paymentReferencePrefix: s.paymentReferencePrefix,
      state: s.state,
      health: s.health,
      tokenVersion: s.tokenVersion,
      fingerprint: s.fingerprint,
      lastRenewedAt: date(s.lastRenewedAtMs),
      expiresAt: date(s.expiresAtMs),
      nextRenewAt: date(s.nextRenewAtMs),
      lastValidatedAt: date(s.lastValidatedAtMs),
      consecutiveFailures: s.consecutiveFailures,
      lastError: s.lastError ?? null,
      leaseHolder: s.leaseHolder ?? null,
      leaseExpiresAt: date(s.leaseExpiresAtMs),
      encrypted: s.encrypted
    })
  }

  /** snake_case kind → the event's name (`renew_failed` → `renewFailed`). */
  const eventName = (kind) => kind.replace(/_([a-z])/g, (_m, c) => c.toUpperCase())

  function tokenEvent (e) {
    return Object.freeze({
      kind: e.kind,
      environment: e.environment,
      clientId: e.clientId,
      tokenVersion: e.tokenVersion,
      fingerprint: e.fingerprint,
      attemptId: e.attemptId ?? null,
      detail: e.detail,
      at: new Date(e.atMs)
    })
  }

  function clientIdArg (id) {
    if (typeof id !== 'string') throw new TypeError(`clientId must be a string (received ${describe(id)})`)
    return id
  }

  function optionalString (v, name) {
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'string') throw new TypeError(`${name} must be a string (received ${describe(v)})`)
    return v
  }

  // -------------------------------------------------------------------------------------------
  // TokenManager

  const EMIT = Symbol('confirma-sdk.emit')

  /**
   * The event callback handed to the native layer. Built here, outside the constructor, so that it holds
   * the manager only weakly: a manager nobody uses any more can be collected (its forwarding stops).
   */
  function forwarder (ref) {
    return (e) => {
      const m = ref.deref()
      if (m !== undefined) m[EMIT](e)
    }
  }

  /**
   * Keeps access tokens alive over a credential store, crash-safe and fleet-safe (the Rust core's
   * TokenManager). `token(clientId)` serves the current token from memory while renewal happens in the
   * background. Emits `rotated`, `renewFailed`, `ambiguous`, `reconciled`, `lost`, `created`, `imported`,
   * `validated`, `renewStarted`, `createStarted`, `createFinished` and `event` (every one), each with a
   * TokenEvent. The event forwarding never keeps the process alive by itself.
   */
  class TokenManager extends EventEmitter {
    #native
    #closed = false

    constructor (client, store, options) {
      super()
      const nativeClient = nativeClientOf(client)
      const nativeStore = nativeStoreOf(store)
      const { opts, key } = managerOptions(options)
      const built = guarded(() => native.newNativeManager(nativeClient, nativeStore, opts, key))
      if (!(built instanceof native.NativeManager)) throw fromNative(built)
      this.#native = built
      guarded(() => built.subscribe(forwarder(new WeakRef(this))))
    }

    [EMIT] (e) {
      const event = tokenEvent(e)
      this.emit(eventName(e.kind), event)
      this.emit('event', event)
    }

    /** This instance's name in leases and events. */
    get owner () { return guarded(() => this.#native.owner) }
    /** The environment its records belong to (`staging`, `production` or the base URL). */
    get environment () { return guarded(() => this.#native.environment) }

    #call (options, invoke) {
      if (this.#closed) return Promise.reject(new ConfigurationError('configuration error: this TokenManager is closed'))
      const signal = signalArg(options)
      return withSignal(signal, (h) => invoke(this.#native, h)).then((outcome) => {
        if (!outcome.ok) throw failure(outcome)
        return outcome
      })
    }

    /**
     * A usable token for `clientId`: from memory without I/O in the common case; loaded (and validated) on
     * first use; when due, renewed (or another instance's renewal adopted) before returning. Aborting the signal
     * only stops waiting: a rotation in progress completes and is persisted.
     */
    async token (clientId, options) {
      const id = clientIdArg(clientId)
      if (!this.#closed && !signalArg(options)?.aborted) {
        // The hot path, synchronous in the core (no hop to its runtime): the token from memory.
        const cached = guarded(() => this.#native.cachedToken(id))
        if (typeof cached === 'string') return new SecretToken(cached)
        if (cached !== null && cached !== undefined) throw fromNative(cached)
      }
      const o = await this.#call(options, (n, h) => n.token(id, h))
      return new SecretToken(o.token)
    }

    /** The status of `clientId`'s credentials (no token). */
    async status (clientId, options) {
      const id = clientIdArg(clientId)
      return credentialStatus((await this.#call(options, (n, h) => n.status(id, h))).credential)
    }

    /** The statuses of every credential of this environment. */
    async statuses (options) {
      return (await this.#call(options, (n, h) => n.statuses(h))).credentials.map(credentialStatus)
    }

    /**
     * Imports an existing client's token (validated first: an unknown token is refused). Replaces what
     * is stored for the client. `options`: `{ customerCode, paymentReferencePrefix, signal }`.
     */
    async importCredentials (clientId, token, options) {
      const id = clientIdArg(clientId)
      const t = tokenArg(token, 'token')
      const code = optionalString(options?.customerCode, 'customerCode')
      const prefix = optionalString(options?.paymentReferencePrefix, 'paymentReferencePrefix')
      return credentialStatus((await this.#call(options, (n, h) => n.importCredentials(id, t, code, prefix, h))).credential)
    }

    /** Renews now, under the lease (another instance's renewal is waited for and its token taken). */
    async renewNow (clientId, options) {
      const id = clientIdArg(clientId)
      return credentialStatus((await this.#call(options, (n, h) => n.renewNow(id, h))).credential)
    }

    /** Reconciles every ambiguous or abandoned record of this environment; their statuses afterwards. */
    async reconcile (options) {
      return (await this.#call(options, (n, h) => n.reconcile(h))).credentials.map(credentialStatus)
    }

    /** Creates a client and commits its credentials to this manager's store before resolving. */
    async createClient (provisioningToken, newClient, options) {
      const token = tokenArg(provisioningToken, 'provisioningToken')
      const body = newClientArg(newClient)
      return createdClient((await this.#call(options, (n, h) => n.createClient(token, body, h))).created)
    }

    /** Stops forwarding events; later calls reject. Renewals already running complete and persist. */
    async close () {
      if (this.#closed) return
      this.#closed = true
      guarded(() => this.#native.close())
    }

    toString () {
      return `TokenManager(${this.environment})`
    }

    toJSON () {
      return { environment: this.environment, owner: this.owner, store: guarded(() => this.#native.describeStore()) }
    }

    [inspectCustom] () {
      return `TokenManager { environment: '${this.environment}', owner: '${this.owner}', store: '${guarded(() => this.#native.describeStore())}' }`
    }
  }

  return { TokenManager, SqliteStore, PostgresStore, MemoryStore, checkStore, nativeStoreOf, keyOptions }
}
