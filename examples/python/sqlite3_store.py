"""A confirma credential store of your own: the ``confirma.CredentialStore`` protocol over the standard
library's ``sqlite3``. The same seven methods over two tables port to any database your application already
has (MSSQL, MySQL, Oracle, your ERP's): the SDK encodes and seals the record, and runs the renewal protocol.

    store = Sqlite3CredentialStore("credentials.db")
    confirma.check_store(Sqlite3CredentialStore(":memory:" or a fresh file))   # in your tests
    manager = confirma.TokenManager(client, store, key=os.environ["CONFIRMA_STORE_KEY"])

Each call opens its own connection (the SDK calls from several worker threads at once), and every write is one
``BEGIN IMMEDIATE`` transaction: the row and its events together, or nothing.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator, List, Optional

import confirma
from confirma import EventRow, StoreRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS confirma_credentials (
  environment TEXT NOT NULL, client_id TEXT NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (environment, client_id));
CREATE TABLE IF NOT EXISTS confirma_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, environment TEXT NOT NULL, client_id TEXT NOT NULL,
  at INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
"""


class Sqlite3CredentialStore:
    """``confirma.CredentialStore`` over a SQLite file, with ``sqlite3`` only."""

    def __init__(self, path: str) -> None:
        self.path = path
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                db.execute("COMMIT")

    @staticmethod
    def _append(db: sqlite3.Connection, events: List[EventRow]) -> None:
        db.executemany(
            "INSERT INTO confirma_events (environment, client_id, at, kind, data) VALUES (?, ?, ?, ?, ?)",
            [(e.environment, e.client_id, e.at, e.kind, e.data) for e in events],
        )

    def load(self, environment: str, client_id: str) -> Optional[StoreRow]:
        with self._connect() as db:
            row = db.execute(
                "SELECT environment, client_id, revision, data FROM confirma_credentials"
                " WHERE environment = ? AND client_id = ?",
                (environment, client_id),
            ).fetchone()
        return StoreRow(*row) if row else None

    def insert(self, row: StoreRow, events: List[EventRow]) -> bool:
        with self._transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO confirma_credentials (environment, client_id, revision, data) VALUES (?, ?, ?, ?)",
                (row.environment, row.client_id, row.revision, row.data),
            )
            if cur.rowcount != 1:
                return False
            self._append(db, events)
            return True

    def compare_and_swap(self, expected_revision: int, row: StoreRow, events: List[EventRow]) -> bool:
        with self._transaction() as db:
            cur = db.execute(
                "UPDATE confirma_credentials SET revision = ?, data = ?"
                " WHERE environment = ? AND client_id = ? AND revision = ?",
                (row.revision, row.data, row.environment, row.client_id, expected_revision),
            )
            if cur.rowcount != 1:
                return False
            self._append(db, events)
            return True

    def delete(self, environment: str, client_id: str, expected_revision: int, events: List[EventRow]) -> bool:
        with self._transaction() as db:
            cur = db.execute(
                "DELETE FROM confirma_credentials WHERE environment = ? AND client_id = ? AND revision = ?",
                (environment, client_id, expected_revision),
            )
            if cur.rowcount != 1:
                return False
            self._append(db, events)
            return True

    def list(self, environment: Optional[str]) -> List[StoreRow]:
        with self._connect() as db:
            if environment is None:
                rows = db.execute("SELECT environment, client_id, revision, data FROM confirma_credentials").fetchall()
            else:
                rows = db.execute(
                    "SELECT environment, client_id, revision, data FROM confirma_credentials WHERE environment = ?",
                    (environment,),
                ).fetchall()
        return [StoreRow(*r) for r in rows]

    def events(self, environment: Optional[str], client_id: Optional[str], after_seq: int, limit: int) -> List[EventRow]:
        with self._connect() as db:
            if environment is None:
                rows = db.execute(
                    "SELECT seq, environment, client_id, at, kind, data FROM confirma_events"
                    " WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after_seq, limit),
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT seq, environment, client_id, at, kind, data FROM confirma_events"
                    " WHERE environment = ? AND client_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                    (environment, client_id, after_seq, limit),
                ).fetchall()
        return [EventRow(*r) for r in rows]

    def describe(self) -> str:
        return f"sqlite3:{self.path}"


if __name__ == "__main__":
    import sys
    import tempfile

    path = sys.argv[1] if len(sys.argv) > 1 else tempfile.mktemp(suffix=".db")
    print(confirma.check_store(Sqlite3CredentialStore(path)))
