package com.confirmafinance.sdk

import java.sql.Connection
import java.sql.DriverManager
import java.sql.ResultSet

/**
 * A partner store as an application would write it: plain JDBC over two tables, here on SQLite (the
 * `org.xerial:sqlite-jdbc` driver). Nothing in it knows the record's format: the SDK encodes `data`.
 *
 * One connection per call (opened, used in one transaction, closed), so any number of these objects — in one JVM or
 * in several processes — can share one database file; SQLite's `BEGIN IMMEDIATE` (sqlite-jdbc's
 * `transaction_mode=IMMEDIATE`) serialises the writers, and `busy_timeout` makes them wait for each other.
 */
class JdbcCredentialStore(private val url: String) : PartnerCredentialStore {
    constructor(file: java.io.File) : this("jdbc:sqlite:${file.path}")

    init {
        connect().use { c ->
            c.createStatement().use { s ->
                s.executeUpdate(
                    """CREATE TABLE IF NOT EXISTS confirma_credentials (
                         environment TEXT NOT NULL, client_id TEXT NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL,
                         PRIMARY KEY (environment, client_id))""",
                )
                s.executeUpdate(
                    """CREATE TABLE IF NOT EXISTS confirma_events (
                         seq INTEGER PRIMARY KEY AUTOINCREMENT, environment TEXT NOT NULL, client_id TEXT NOT NULL,
                         at INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL)""",
                )
            }
            c.commit()
        }
    }

    private fun connect(): Connection {
        val props = java.util.Properties().apply {
            setProperty("journal_mode", "WAL")
            setProperty("busy_timeout", "30000")
            setProperty("transaction_mode", "IMMEDIATE")
            setProperty("synchronous", "FULL")
        }
        return DriverManager.getConnection(url, props).apply { autoCommit = false }
    }

    /** One transaction: committed if [block] returns true, rolled back otherwise (or on an exception). */
    private fun write(block: (Connection) -> Boolean): Boolean = connect().use { c ->
        try {
            val ok = block(c)
            if (ok) c.commit() else c.rollback()
            ok
        } catch (e: Exception) {
            c.rollback()
            throw e
        }
    }

    private fun <T> read(block: (Connection) -> T): T = connect().use { c -> block(c).also { c.rollback() } }

    private fun append(c: Connection, events: List<EventRow>) {
        c.prepareStatement("INSERT INTO confirma_events (environment, client_id, at, kind, data) VALUES (?, ?, ?, ?, ?)").use { p ->
            for (e in events) {
                p.setString(1, e.environment); p.setString(2, e.clientId); p.setLong(3, e.at)
                p.setString(4, e.kind); p.setString(5, e.data)
                p.executeUpdate()
            }
        }
    }

    private fun ResultSet.row() = StoreRow(getString(1), getString(2), getLong(3), getString(4))

    private fun ResultSet.event() = EventRow(getLong(1), getString(2), getString(3), getLong(4), getString(5), getString(6))

    override fun load(environment: String, clientId: String): StoreRow? = read { c ->
        c.prepareStatement("SELECT environment, client_id, revision, data FROM confirma_credentials WHERE environment = ? AND client_id = ?").use { p ->
            p.setString(1, environment); p.setString(2, clientId)
            p.executeQuery().use { r -> if (r.next()) r.row() else null }
        }
    }

    override fun insert(row: StoreRow, events: List<EventRow>): Boolean = write { c ->
        val n = c.prepareStatement(
            "INSERT INTO confirma_credentials (environment, client_id, revision, data) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        ).use { p ->
            p.setString(1, row.environment); p.setString(2, row.clientId); p.setLong(3, row.revision); p.setString(4, row.data)
            p.executeUpdate()
        }
        if (n == 1) append(c, events)
        n == 1
    }

    override fun compareAndSwap(expectedRevision: Long, row: StoreRow, events: List<EventRow>): Boolean = write { c ->
        val n = c.prepareStatement(
            "UPDATE confirma_credentials SET revision = ?, data = ? WHERE environment = ? AND client_id = ? AND revision = ?",
        ).use { p ->
            p.setLong(1, row.revision); p.setString(2, row.data); p.setString(3, row.environment)
            p.setString(4, row.clientId); p.setLong(5, expectedRevision)
            p.executeUpdate()
        }
        if (n == 1) append(c, events)
        n == 1
    }

    override fun delete(environment: String, clientId: String, expectedRevision: Long, events: List<EventRow>): Boolean = write { c ->
        val n = c.prepareStatement("DELETE FROM confirma_credentials WHERE environment = ? AND client_id = ? AND revision = ?").use { p ->
            p.setString(1, environment); p.setString(2, clientId); p.setLong(3, expectedRevision)
            p.executeUpdate()
        }
        if (n == 1) append(c, events)
        n == 1
    }

    override fun list(environment: String?): List<StoreRow> = read { c ->
        val sql = "SELECT environment, client_id, revision, data FROM confirma_credentials" +
            (if (environment != null) " WHERE environment = ?" else "") + " ORDER BY environment, client_id"
        c.prepareStatement(sql).use { p ->
            if (environment != null) p.setString(1, environment)
            p.executeQuery().use { r -> buildList { while (r.next()) add(r.row()) } }
        }
    }

    override fun events(environment: String?, clientId: String?, afterSeq: Long, limit: Int): List<EventRow> = read { c ->
        val one = environment != null && clientId != null
        val sql = "SELECT seq, environment, client_id, at, kind, data FROM confirma_events WHERE seq > ?" +
            (if (one) " AND environment = ? AND client_id = ?" else "") + " ORDER BY seq LIMIT ?"
        c.prepareStatement(sql).use { p ->
            var i = 1
            p.setLong(i++, afterSeq)
            if (one) { p.setString(i++, environment); p.setString(i++, clientId) }
            p.setInt(i, limit)
            p.executeQuery().use { r -> buildList { while (r.next()) add(r.event()) } }
        }
    }

    override fun describe(): String = url
}
