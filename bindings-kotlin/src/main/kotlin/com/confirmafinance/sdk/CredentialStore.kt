package com.confirmafinance.sdk

import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.runBlocking

/**
 * Where a [TokenManager] keeps credentials: one record per client (the token sealed with AES-256-GCM under the
 * store key, never in clear unless you opt into it) and an append-only event log. Built by one of the factories:
 *
 * ```kotlin
 * val store = CredentialStore.sqlite("/var/lib/app/confirma.db")                  // key from CONFIRMA_STORE_KEY
 * val fleet = CredentialStore.postgres("postgres://app@db:5432/app", key = vaultKey) // suspend; postgresBlocking for Java
 * val mine  = CredentialStore.custom(MyJdbcCredentialStore(dataSource))            // the application's own database
 * val test  = CredentialStore.memory()                                              // this process only
 * ```
 *
 * **The key.** `key` is base64 of 32 random bytes (`openssl rand -base64 32`). `key = null` reads
 * `CONFIRMA_STORE_KEY` (and `CONFIRMA_STORE_PREVIOUS_KEYS`); with neither, the factory throws
 * [ConfirmaException.Storage] saying how to set one — unless `plaintext = true`, the explicit opt-in to store
 * tokens in clear (every status then says `encrypted = false`). `previousKeys` still open what older keys sealed
 * (key rotation). Which of these applies is decided by the core (`confirma::ffi::SealerInput`). The key is not
 * kept by this object and never printed: [toString] shows only [description].
 *
 * Thread-safe; share one per database. [close] releases the native handle (a [TokenManager] built on it keeps
 * its own reference).
 */
class CredentialStore private constructor(internal val native: NativeStore) : AutoCloseable {
    private val closed = AtomicBoolean(false)

    /** Where the store is (`sqlite:/var/lib/app/confirma.db`, `postgres://app@db:5432/app`, …), never a password. */
    val description: String = native.describe()

    /** Whether tokens are sealed (false only after the explicit `plaintext = true` opt-in without a key). */
    val encrypted: Boolean = native.encrypted()

    internal fun live(): NativeStore {
        check(!closed.get()) { "this CredentialStore is closed" }
        return native
    }

    /** Releases the native handle. Idempotent. */
    override fun close() {
        if (closed.compareAndSet(false, true)) native.close()
    }

    /** `CredentialStore(sqlite:/path, encrypted=true)`: never a key or a password. */
    override fun toString(): String = "CredentialStore($description, encrypted=$encrypted)"

    companion object {
        /**
         * The SQLite store in the file at [path] (created, with its schema, if needed; WAL journaling, so several
         * processes on one host can share it). Blocking: opens the file.
         *
         * @throws ConfirmaException.Storage on a file that cannot be opened, or no key (see the class docs).
         */
        @JvmStatic
        @JvmOverloads
        fun sqlite(
            path: String,
            key: String? = null,
            plaintext: Boolean = false,
            previousKeys: List<String> = emptyList(),
        ): CredentialStore = CredentialStore(translate("key") { NativeStore.sqlite(path, key, previousKeys, plaintext) })

        /**
         * The PostgreSQL store at [dsn] (`postgres://user:password@host:5432/db` or libpq's `key=value` form), for
         * fleets of hosts: connects a pool and applies the schema. The password never appears in errors or
         * [description]. Suspends while connecting (use [postgresBlocking] from Java).
         *
         * @throws ConfirmaException.Storage when the database cannot be reached, or no key (see the class docs).
         */
        suspend fun postgres(
            dsn: String,
            key: String? = null,
            plaintext: Boolean = false,
            previousKeys: List<String> = emptyList(),
        ): CredentialStore = CredentialStore(translate("key") { nativePostgresStore(dsn, key, previousKeys, plaintext) })

        /** Blocking [postgres] (Java, scripts). */
        @JvmStatic
        @JvmOverloads
        @Throws(ConfirmaException::class)
        fun postgresBlocking(
            dsn: String,
            key: String? = null,
            plaintext: Boolean = false,
            previousKeys: List<String> = emptyList(),
        ): CredentialStore = runBlocking { postgres(dsn, key, plaintext, previousKeys) }

        /**
         * A store in this process's memory (tests, short-lived tools): lost at exit, one process only. Its tokens
         * are sealed under [key], else `CONFIRMA_STORE_KEY`, else a fresh random key that lives as long as the store
         * (nothing in it outlives the process); in clear only with [plaintext] (the core's rule, as for every store).
         */
        @JvmStatic
        @JvmOverloads
        fun memory(key: String? = null, plaintext: Boolean = false): CredentialStore =
            CredentialStore(translate("key") { NativeStore.memory(key, emptyList(), plaintext) })

        /**
         * A store over the application's own database: [rows] implements the seven row methods of
         * [PartnerCredentialStore] (two tables; e.g. over JDBC). The SDK encodes and checks what is stored (the token
         * only sealed) and runs the rotation protocol; your code only stores rows. Its methods are called on a
         * blocking thread of the SDK; anything they throw becomes a retryable [ConfirmaException.Storage] for the
         * caller, and nothing is committed on it. The key works as for the other stores.
         *
         * Test it with [check] on an empty database before use.
         */
        @JvmStatic
        @JvmOverloads
        fun custom(
            rows: PartnerCredentialStore,
            key: String? = null,
            plaintext: Boolean = false,
            previousKeys: List<String> = emptyList(),
        ): CredentialStore =
            CredentialStore(translate("key") { nativeCustomStore(PartnerStoreAdapter(rows), key, previousKeys, plaintext) })

        /**
         * Runs the SDK's store conformance suite against [store], which must be EMPTY (a fresh database): round
         * trips of every field, insert-if-absent, compare-and-swap on the revision, events written atomically with
         * their row (and not at all when the write is refused), event order and filters, exactly one winner among
         * concurrent compare-and-swaps, deletes. Returns the report (one passed check per line).
         *
         * @throws ConfirmaException.Storage naming the first check that failed.
         */
        suspend fun check(store: CredentialStore): String = translate { nativeCheckStore(store.live()) }

        /** [check] of a partner store directly (its rows only: the suite does not seal tokens). */
        suspend fun check(rows: PartnerCredentialStore): String = custom(rows, plaintext = true).use { check(it) }

        /** Blocking [check]. */
        @JvmStatic
        @Throws(ConfirmaException::class)
        fun checkBlocking(store: CredentialStore): String = runBlocking { check(store) }

        /** Blocking [check] of a partner store. */
        @JvmStatic
        @Throws(ConfirmaException::class)
        fun checkBlocking(rows: PartnerCredentialStore): String = runBlocking { check(rows) }
    }
}
