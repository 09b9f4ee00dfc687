package com.confirmafinance.sdk

/**
 * A credential store the application writes over its own database (JDBC, an ORM; MSSQL, MySQL, Oracle, …), passed
 * to the SDK as [CredentialStore.custom]. Seven blocking methods over two tables — nothing to interpret: the SDK
 * encodes the record into [StoreRow.data] (versioned JSON, the token only sealed) and checks what comes back.
 *
 * ```sql
 * CREATE TABLE confirma_credentials (
 *   environment VARCHAR(500) NOT NULL, client_id VARCHAR(500) NOT NULL,
 *   revision BIGINT NOT NULL, data TEXT NOT NULL,
 *   PRIMARY KEY (environment, client_id));
 * CREATE TABLE confirma_events (
 *   seq BIGINT AUTO_INCREMENT PRIMARY KEY, environment VARCHAR(500) NOT NULL, client_id VARCHAR(500) NOT NULL,
 *   at BIGINT NOT NULL, kind VARCHAR(50) NOT NULL, data TEXT NOT NULL);
 * ```
 *
 * The contract (run [CredentialStore.check] against an empty database to test it):
 * - [insert], [compareAndSwap] and [delete] write the row AND append the events in ONE transaction, or write
 *   nothing and return `false`;
 * - [compareAndSwap] is `UPDATE confirma_credentials SET revision = ?, data = ? WHERE environment = ? AND
 *   client_id = ? AND revision = ?` (`expectedRevision`): one row changed = `true`. Concurrent callers (threads,
 *   processes, hosts) must be serialised by the database: exactly one of several swaps naming the same revision wins;
 * - the events' [EventRow.seq] is 0 when written: the store assigns increasing numbers (an auto-increment);
 * - everything is durable when the method returns.
 *
 * Methods are called on a blocking thread of the SDK (never a coroutine or a caller's thread) and may block
 * (JDBC). Anything they throw becomes a retryable [ConfirmaException.Storage] (`"<exception class>: <message>"`)
 * for the caller of the SDK, and the SDK commits nothing on it: roll your transaction back and throw.
 */
interface PartnerCredentialStore {
    /** The row of ([environment], [clientId]), or `null`. */
    fun load(environment: String, clientId: String): StoreRow?

    /** Inserts [row] (its revision is 1) and appends [events] in one transaction; `false` (nothing written) if a row exists. */
    fun insert(row: StoreRow, events: List<EventRow>): Boolean

    /**
     * Replaces the row of ([StoreRow.environment], [StoreRow.clientId]) with [row] iff its stored revision is
     * [expectedRevision], appending [events] in the same transaction; `false` (nothing written) otherwise.
     */
    fun compareAndSwap(expectedRevision: Long, row: StoreRow, events: List<EventRow>): Boolean

    /** Deletes the row iff its stored revision is [expectedRevision], appending [events] in the same transaction; `false` otherwise. */
    fun delete(environment: String, clientId: String, expectedRevision: Long, events: List<EventRow>): Boolean

    /** Every row, or those of [environment]. */
    fun list(environment: String?): List<StoreRow>

    /**
     * Events with `seq > afterSeq`, oldest first (by seq), at most [limit]; of one record ([environment] and
     * [clientId] both given) or of all (both `null`).
     */
    fun events(environment: String?, clientId: String?, afterSeq: Long, limit: Int): List<EventRow>

    /** A description for logs (`jdbc:sqlserver://db/app`), never a password. */
    fun describe(): String
}

/**
 * One credential row of a [PartnerCredentialStore]: the key, the revision (compare-and-swap) and [data], which
 * the SDK writes and reads (versioned JSON; the token in it only sealed, unless plaintext was opted into — so
 * [toString] never prints it).
 */
data class StoreRow(
    /** `staging`, `production`, or a custom base URL. */
    val environment: String,
    /** The CFIS client id. */
    val clientId: String,
    /** The record's revision (1 on insert, +1 per swap). */
    val revision: Long,
    /** The record's data: store it as it is (TEXT). */
    val data: String,
) {
    /** The data is not printed. */
    override fun toString(): String = "StoreRow(environment=$environment, clientId=$clientId, revision=$revision, data=<${data.length} chars>)"
}

/** One event row of a [PartnerCredentialStore] (fingerprints, never tokens). */
data class EventRow(
    /** The store's sequence number: 0 when the SDK writes it; the store assigns increasing numbers. */
    val seq: Long,
    /** The environment. */
    val environment: String,
    /** The client id. */
    val clientId: String,
    /** When (epoch milliseconds). */
    val at: Long,
    /** What happened (`rotated`, `lost`, … as [EventKind]'s snake_case names). */
    val kind: String,
    /** The rest of the event (JSON written and read by the SDK). */
    val data: String,
)

/**
 * The native callback over a partner's store: every failure of the partner's code (an exception, an `Error`, a
 * `null` a Java implementation returned where a list belongs, a number out of range) becomes the declared
 * [NativeRowStoreException] as `"<class>: <message>"`, so the core receives it as a `RowStoreError`.
 */
internal class PartnerStoreAdapter(private val rows: PartnerCredentialStore) : NativeRowStore {
    private inline fun <T> guard(block: () -> T): T =
        try {
            block()
        } catch (e: Throwable) {
            throw NativeRowStoreException.Failed("${e.javaClass.name}: ${e.message ?: "(no message)"}")
        }

    override fun load(environment: String, clientId: String): NativeStoreRow? =
        guard { rows.load(environment, clientId)?.toNative() }

    override fun insert(row: NativeStoreRow, events: List<NativeEventRow>): Boolean =
        guard { rows.insert(row.toKotlin(), events.map { it.toKotlin() }) }

    override fun compareAndSwap(expectedRevision: ULong, row: NativeStoreRow, events: List<NativeEventRow>): Boolean =
        guard { rows.compareAndSwap(expectedRevision.toLongExact(), row.toKotlin(), events.map { it.toKotlin() }) }

    override fun delete(environment: String, clientId: String, expectedRevision: ULong, events: List<NativeEventRow>): Boolean =
        guard { rows.delete(environment, clientId, expectedRevision.toLongExact(), events.map { it.toKotlin() }) }

    override fun list(environment: String?): List<NativeStoreRow> =
        guard { rows.list(environment).map { it.toNative() } }

    override fun events(environment: String?, clientId: String?, afterSeq: ULong, limit: UInt): List<NativeEventRow> =
        guard { rows.events(environment, clientId, afterSeq.toLongExact(), limit.toIntClamped()).map { it.toNative() } }

    override fun describe(): String = guard { rows.describe() }
}

private fun ULong.toLongExact(): Long {
    require(this <= Long.MAX_VALUE.toULong()) { "$this is out of the range of a Long" }
    return toLong()
}

private fun UInt.toIntClamped(): Int = if (this > Int.MAX_VALUE.toUInt()) Int.MAX_VALUE else toInt()

private fun Long.toULongChecked(what: String): ULong {
    require(this >= 0) { "$what must not be negative (got $this)" }
    return toULong()
}

private fun StoreRow.toNative() = NativeStoreRow(environment, clientId, revision.toULongChecked("StoreRow.revision"), data)

private fun NativeStoreRow.toKotlin() = StoreRow(environment, clientId, revision.toLongExact(), data)

private fun EventRow.toNative() = NativeEventRow(seq.toULongChecked("EventRow.seq"), environment, clientId, at, kind, data)

private fun NativeEventRow.toKotlin() = EventRow(seq.toLongExact(), environment, clientId, at, kind, data)
