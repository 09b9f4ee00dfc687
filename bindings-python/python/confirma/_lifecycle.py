"""The token lifecycle: credential stores, :class:`TokenManager` and :class:`AsyncTokenManager`.

The Rust core runs the whole protocol (claim, call, commit, reconcile; defaults and bounds); this module
only turns Python values into the core's inputs and its results into Python objects.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import weakref
from dataclasses import dataclass
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Protocol,
    Sequence,
    Type,
    Union,
    runtime_checkable,
)

from . import _native
from ._native import CreatedClient, SecretToken

if TYPE_CHECKING:
    from ._client import AsyncClient, Client, NewClientInput, Token

__all__ = [
    "SqliteStore",
    "PostgresStore",
    "MemoryStore",
    "CredentialStore",
    "StoreRow",
    "EventRow",
    "check_store",
    "CredentialStatus",
    "TokenEvent",
    "TokenManager",
    "AsyncTokenManager",
    "EventStream",
    "AsyncEventStream",
    "Seconds",
]

_log = logging.getLogger("confirma")

Seconds = Union[float, int, datetime.timedelta]
"""A duration option: seconds (``float``/``int``) or a :class:`datetime.timedelta`."""

Key = Union[str, SecretToken]
"""A store key: base64 of 32 random bytes (``openssl rand -base64 32``), as ``str`` or :class:`SecretToken`."""


# ---------------------------------------------------------------------------------------------------------
# Plain data


@dataclass(frozen=True)
class CredentialStatus:
    """A credential's status: everything but the token. Times are timezone-aware (UTC) datetimes.

    ``state``: ``"active"``, ``"renewing"``, ``"ambiguous"``, ``"lost"`` or ``"creating"`` (a pending
    create). ``health``: ``"healthy"``, ``"degraded"`` (usable; renewals fail or one is being reconciled) or
    ``"lost"`` (the client needs a new token).
    """

    environment: str
    client_id: str
    customer_code: str
    payment_reference_prefix: str
    state: str
    health: str
    token_version: int
    fingerprint: str
    last_renewed_at: Optional[datetime.datetime]
    expires_at: Optional[datetime.datetime]
    next_renew_at: Optional[datetime.datetime]
    last_validated_at: Optional[datetime.datetime]
    consecutive_failures: int
    last_error: Optional[str]
    lease_holder: Optional[str]
    lease_expires_at: Optional[datetime.datetime]
    encrypted: bool


@dataclass(frozen=True)
class TokenEvent:
    """Something that happened to a credential in this process. Fingerprints only, never a token.

    ``kind``: ``created``, ``imported``, ``validated``, ``renew_started``, ``rotated``, ``renew_failed``,
    ``ambiguous``, ``reconciled``, ``lost``, ``create_started``, ``create_finished``.
    """

    kind: str
    environment: str
    client_id: str
    token_version: int
    fingerprint: str
    attempt_id: Optional[str]
    detail: str
    at: Optional[datetime.datetime]


@dataclass(frozen=True)
class StoreRow:
    """One credential as your :class:`CredentialStore` keeps it: table ``confirma_credentials``
    (``environment``, ``client_id``) primary key, ``revision``, ``data``. ``data`` is written and read by
    the SDK only (versioned JSON; the token in it only sealed, unless plaintext was opted into)."""

    environment: str
    client_id: str
    revision: int
    data: str

    def __repr__(self) -> str:
        return (
            f"StoreRow(environment={self.environment!r}, client_id={self.client_id!r}, "
            f"revision={self.revision}, data=<{len(self.data)} chars>)"
        )


@dataclass(frozen=True)
class EventRow:
    """One event as your :class:`CredentialStore` keeps it: table ``confirma_events`` (``seq``
    auto-increment, ``environment``, ``client_id``, ``at`` epoch ms, ``kind``, ``data``). ``seq`` is 0 when
    the SDK hands an event to be written: your store assigns increasing numbers."""

    seq: int
    environment: str
    client_id: str
    at: int
    kind: str
    data: str


@runtime_checkable
class CredentialStore(Protocol):
    """A credential store you write over your own database (MSSQL, MySQL, Oracle, your ERP's, ``sqlite3``).

    Seven plain, synchronous methods over two tables::

        CREATE TABLE confirma_credentials (
          environment TEXT NOT NULL, client_id TEXT NOT NULL, revision BIGINT NOT NULL, data TEXT NOT NULL,
          PRIMARY KEY (environment, client_id));
        CREATE TABLE confirma_events (
          seq <auto-increment> PRIMARY KEY, environment TEXT NOT NULL, client_id TEXT NOT NULL,
          at BIGINT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);

    ``insert``, ``compare_and_swap`` and ``delete`` write the row **and** append the events in one
    transaction. Compare-and-swap is ``UPDATE confirma_credentials SET revision=?, data=? WHERE
    environment=? AND client_id=? AND revision=?`` (one row changed: ``True``). Everything else (the
    record's encoding, the encryption, the renewal protocol) is the SDK's. Pass your object wherever a store
    is taken (``TokenManager(client, my_store, key=...)``) and test it with :func:`check_store`.

    The methods are called from the SDK's worker threads (one at a time per call, several calls may run
    concurrently): use a connection per call or per thread. An exception becomes
    :class:`~confirma.StorageError` (retryable) for the caller, and nothing is committed.
    Rows may be returned as :class:`StoreRow`/:class:`EventRow`, any object with those attributes, or
    tuples in field order.
    """

    def load(self, environment: str, client_id: str) -> Optional[StoreRow]:
        """The row for ``(environment, client_id)``, or ``None``."""
        ...

    def insert(self, row: StoreRow, events: List[EventRow]) -> bool:
        """Inserts the row and appends the events in one transaction; ``False`` (nothing written) if a row
        exists for its key."""
        ...

    def compare_and_swap(self, expected_revision: int, row: StoreRow, events: List[EventRow]) -> bool:
        """Replaces the row iff its stored revision is ``expected_revision``, appending the events in the
        same transaction; ``False`` (nothing written) otherwise."""
        ...

    def delete(self, environment: str, client_id: str, expected_revision: int, events: List[EventRow]) -> bool:
        """Deletes the row iff its stored revision is ``expected_revision``, appending the events in the
        same transaction; ``False`` (nothing written) otherwise."""
        ...

    def list(self, environment: Optional[str]) -> Sequence[StoreRow]:
        """Every row, or those of one environment."""
        ...

    def events(
        self, environment: Optional[str], client_id: Optional[str], after_seq: int, limit: int
    ) -> Sequence[EventRow]:
        """Events with ``seq > after_seq``, oldest first, at most ``limit``; of one credential
        (``environment`` and ``client_id`` both given) or of all (both ``None``)."""
        ...

    def describe(self) -> str:
        """A description for logs (``"mssql:billing-db"``), never a password."""
        ...


# ---------------------------------------------------------------------------------------------------------
# Stores


def _key(name: str, value: Optional[Key]) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, SecretToken):
        return value.reveal()
    if isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a str or confirma.SecretToken, not {type(value).__name__}")


def _keys(previous_keys: Iterable[Key]) -> List[str]:
    if isinstance(previous_keys, (str, SecretToken)):
        raise TypeError("previous_keys must be a sequence of keys, not a single key")
    return [_key("previous_keys[]", k) or "" for k in previous_keys]


def _flag(name: str, value: bool) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


class _Store:
    """A built-in store. ``repr`` shows its location, never a key or a password."""

    _native: _native.NativeStore

    @property
    def encrypted(self) -> bool:
        """Whether tokens are encrypted at rest (``False`` only after ``plaintext=True`` without a key)."""
        return bool(self._native.encrypted)

    def describe(self) -> str:
        """Where the store is (``sqlite:/path``, ``postgres://user@host:5432/db``, ``memory``); no secret."""
        return self._native.describe

    def close(self) -> None:
        """Closes the store (managers using it keep it open until they are closed)."""
        self._native.close()

    def __enter__(self) -> "_Store":
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._native.describe!r}, encrypted={self.encrypted})"

    def __reduce__(self) -> Any:
        raise TypeError(f"confirma.{type(self).__name__} cannot be pickled; open it again in the other process")


class SqliteStore(_Store):
    """Credentials in a SQLite file (created with its schema if missing); safe for several processes on
    one host.

    ``key``: the store key, base64 of 32 random bytes (``openssl rand -base64 32``); ``None`` reads
    ``CONFIRMA_STORE_KEY``. Without any key, opening fails with :class:`~confirma.StorageError` unless
    ``plaintext=True`` (tokens then stored in clear; statuses say ``encrypted=False``). ``previous_keys``:
    older keys still accepted (key rotation: their tokens are re-sealed under ``key`` on load; ``None`` key
    also reads ``CONFIRMA_STORE_PREVIOUS_KEYS``). Bound to the process that opened it: after ``os.fork()``
    open it again in the child.
    """

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]"],
        key: Optional[Key] = None,
        plaintext: bool = False,
        previous_keys: Iterable[Key] = (),
    ) -> None:
        self._native = _native.NativeStore.sqlite(
            os.fspath(path), _key("key", key), _keys(previous_keys), _flag("plaintext", plaintext)
        )


class MemoryStore(_Store):
    """Credentials in memory (tests, demos): gone when the process exits. Tokens are still sealed: under
    ``key`` / ``CONFIRMA_STORE_KEY`` if given, else under a random key of this store."""

    def __init__(self, key: Optional[Key] = None, plaintext: bool = False, previous_keys: Iterable[Key] = ()) -> None:
        self._native = _native.NativeStore.memory(_key("key", key), _keys(previous_keys), _flag("plaintext", plaintext))


class PostgresStore(_Store):
    """Credentials in PostgreSQL (schema created if missing): for fleets of hosts.

    ``PostgresStore(dsn, key=None, plaintext=False, previous_keys=())`` connects (blocking, GIL released);
    from asyncio use ``await PostgresStore.connect_async(dsn, ...)``. ``dsn``: ``postgres://user:pw@host/db``
    or ``host=... user=...``; the password never appears in ``repr`` or logs. Keys as for
    :class:`SqliteStore`.
    """

    def __init__(
        self,
        dsn: str,
        key: Optional[Key] = None,
        plaintext: bool = False,
        previous_keys: Iterable[Key] = (),
    ) -> None:
        if not isinstance(dsn, str):
            raise TypeError(f"dsn must be a str, not {type(dsn).__name__}")
        self._native = _native.NativeStore.postgres(dsn, _key("key", key), _keys(previous_keys), _flag("plaintext", plaintext))

    @classmethod
    def connect(
        cls, dsn: str, key: Optional[Key] = None, plaintext: bool = False, previous_keys: Iterable[Key] = ()
    ) -> "PostgresStore":
        """Same as the constructor."""
        return cls(dsn, key=key, plaintext=plaintext, previous_keys=previous_keys)

    @classmethod
    async def connect_async(
        cls, dsn: str, key: Optional[Key] = None, plaintext: bool = False, previous_keys: Iterable[Key] = ()
    ) -> "PostgresStore":
        """Connects without blocking the event loop."""
        if not isinstance(dsn, str):
            raise TypeError(f"dsn must be a str, not {type(dsn).__name__}")
        native = await _native.NativeStore.postgres_async(
            dsn, _key("key", key), _keys(previous_keys), _flag("plaintext", plaintext)
        )
        store = cls.__new__(cls)
        store._native = native
        return store


StoreArg = Union[_Store, CredentialStore]
"""A store argument: a built-in store or your own :class:`CredentialStore`."""


def _native_store(store: Any) -> _native.NativeStore:
    if isinstance(store, _Store):
        return store._native
    if isinstance(store, _native.NativeStore):
        return store
    return _native._foreign_store(store)


def check_store(store: StoreArg) -> str:
    """Runs the SDK's store conformance suite against ``store`` (which must be **empty**: use a fresh
    database or schema). Returns the report, one passed check per line; a failed check raises
    :class:`~confirma.StorageError` naming it. Run it in your store's tests."""
    return _native_store(store).check()


# ---------------------------------------------------------------------------------------------------------
# Managers

_DURATIONS = (
    "renew_every",
    "lease",
    "validate_interval",
    "failure_backoff",
    "failure_backoff_max",
    "poll_interval",
)
_FRACTIONS = ("renew_at_fraction", "jitter")


def _options(options: Dict[str, Any]) -> Dict[str, Any]:
    """Checks the Python types of the manager options (``TypeError``); their values are the core's to judge
    (``ConfigurationError``)."""
    from ._client import _float, _seconds

    out: Dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        if name in _DURATIONS:
            if isinstance(value, datetime.timedelta):
                out[name] = value.total_seconds()
            else:
                out[name] = _seconds(name, value)
        elif name in _FRACTIONS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, not {type(value).__name__}")
            out[name] = _float(value)
        elif name == "owner":
            if not isinstance(value, str):
                raise TypeError(f"owner must be a str, not {type(value).__name__}")
            out[name] = value
        else:
            raise TypeError(f"unknown TokenManager option {name!r}")
    return out


Listener = Callable[[TokenEvent], Any]

_LIVE: "weakref.WeakSet[_ManagerBase]" = weakref.WeakSet()


def _close_all() -> None:
    """``atexit``: closes the managers still open, so that their listener threads end while the interpreter
    is still whole (a thread woken during finalization must not re-enter Python)."""
    for m in list(_LIVE):
        try:
            m._native.close()
            m._listeners.join(1.0)
        except Exception:  # noqa: BLE001 -- best effort at exit
            pass


class _Listeners:
    """Callbacks, called from one background thread (``confirma-events``) per manager, in event order."""

    def __init__(self, native: _native.NativeManager) -> None:
        self._native = native
        self._lock = threading.Lock()
        self._by_kind: Dict[Optional[str], List[Listener]] = {}
        self._thread: Optional[threading.Thread] = None

    def add(self, kind: Optional[str], callback: Listener) -> None:
        if not callable(callback):
            raise TypeError("callback must be callable")
        if kind is not None and not isinstance(kind, str):
            raise TypeError(f"kind must be a str or None, not {type(kind).__name__}")
        with self._lock:
            self._by_kind.setdefault(kind, []).append(callback)
            if self._thread is None:
                stream = self._native.events()
                self._thread = threading.Thread(target=self._run, args=(stream,), name="confirma-events", daemon=True)
                self._thread.start()

    def remove(self, kind: Optional[str], callback: Listener) -> None:
        with self._lock:
            callbacks = self._by_kind.get(kind, [])
            if callback in callbacks:
                callbacks.remove(callback)

    def _run(self, stream: _native.NativeEvents) -> None:
        while True:
            event = stream.next(None)
            if event is None:
                return
            if event is False:
                continue
            with self._lock:
                callbacks = list(self._by_kind.get(event.kind, [])) + list(self._by_kind.get(None, []))
            for cb in callbacks:
                try:
                    cb(event)
                except Exception:  # noqa: BLE001 -- a listener's failure must not stop the others
                    _log.exception("a confirma token-event listener raised")

    def join(self, timeout: Optional[float]) -> None:
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)


class EventStream:
    """A blocking iterator over a manager's events from the moment it was made; ends when the manager is
    closed. A reader that falls more than 256 events behind skips what it missed (:attr:`missed`)."""

    def __init__(self, native: _native.NativeEvents) -> None:
        self._native = native

    def __iter__(self) -> Iterator[TokenEvent]:
        return self

    def __next__(self) -> TokenEvent:
        event = self._native.next(None)
        if event is None or event is False:
            raise StopIteration
        return event  # type: ignore[no-any-return]

    def get(self, timeout: Optional[float] = None) -> Optional[TokenEvent]:
        """The next event, or ``None`` after ``timeout`` seconds (or once the manager is closed)."""
        event = self._native.next(timeout)
        if event is None or event is False:
            return None
        return event  # type: ignore[no-any-return]

    @property
    def missed(self) -> int:
        """How many events this reader skipped because it fell behind."""
        return self._native.missed


class AsyncEventStream:
    """An async iterator over a manager's events (``async for event in manager.events()``)."""

    def __init__(self, native: _native.NativeEvents) -> None:
        self._native = native

    def __aiter__(self) -> AsyncIterator[TokenEvent]:
        return self

    async def __anext__(self) -> TokenEvent:
        event = await self._native.next_async()
        if event is None or event is False:
            raise StopAsyncIteration
        return event  # type: ignore[no-any-return]

    @property
    def missed(self) -> int:
        """How many events this reader skipped because it fell behind."""
        return self._native.missed


class _ManagerBase:
    _native: _native.NativeManager

    def __init__(
        self,
        client: Union["Client", "AsyncClient"],
        store: StoreArg,
        *,
        renew_every: Optional[Seconds] = None,
        renew_at_fraction: Optional[float] = None,
        jitter: Optional[float] = None,
        lease: Optional[Seconds] = None,
        validate_interval: Optional[Seconds] = None,
        failure_backoff: Optional[Seconds] = None,
        failure_backoff_max: Optional[Seconds] = None,
        poll_interval: Optional[Seconds] = None,
        owner: Optional[str] = None,
        key: Optional[Key] = None,
        plaintext: Optional[bool] = None,
        previous_keys: Optional[Iterable[Key]] = None,
    ) -> None:
        native_client = getattr(client, "_native", None)
        if not isinstance(native_client, _native.NativeClient):
            raise TypeError(f"client must be a confirma.Client or confirma.AsyncClient, not {type(client).__name__}")
        opts = _options(
            {
                "renew_every": renew_every,
                "renew_at_fraction": renew_at_fraction,
                "jitter": jitter,
                "lease": lease,
                "validate_interval": validate_interval,
                "failure_backoff": failure_backoff,
                "failure_backoff_max": failure_backoff_max,
                "poll_interval": poll_interval,
                "owner": owner,
            }
        )
        self._store = store
        self._native = _native.NativeManager(
            native_client,
            _native_store(store),
            key=_key("key", key),
            previous_keys=None if previous_keys is None else _keys(previous_keys),
            plaintext=None if plaintext is None else _flag("plaintext", plaintext),
            **opts,
        )
        self._listeners = _Listeners(self._native)
        _LIVE.add(self)

    @property
    def environment(self) -> str:
        """The environment this manager's credentials belong to (``staging``, ``production``, or the URL)."""
        return self._native.environment

    @property
    def owner(self) -> str:
        """This instance's name in leases and events."""
        return self._native.owner

    @property
    def closed(self) -> bool:
        return self._native.closed

    def on(self, kind: Optional[str], callback: Listener) -> Listener:
        """Calls ``callback(event)`` for every event of ``kind`` (``"rotated"``, ``"renew_failed"``,
        ``"ambiguous"``, ``"lost"``, ...; ``None`` = every kind). Returns ``callback`` (usable as a decorator
        factory's result).

        Callbacks run on one background thread of this manager (``confirma-events``), in event order,
        holding the GIL: keep them short (hand work to a queue). An exception in a callback is logged on the
        ``confirma`` logger and does not stop the others. Events that happen before ``on`` are not replayed.
        """
        self._listeners.add(kind, callback)
        return callback

    def add_listener(self, callback: Listener) -> Listener:
        """``on(None, callback)``: every event."""
        return self.on(None, callback)

    def remove_listener(self, callback: Listener, kind: Optional[str] = None) -> None:
        """Stops calling ``callback`` for ``kind`` (``None``: the one added with :meth:`add_listener`)."""
        self._listeners.remove(kind, callback)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(environment={self.environment!r}, store={self._native.store_description!r}, "
            f"owner={self.owner!r}, encrypted={self._native.encrypted})"
        )

    def __reduce__(self) -> Any:
        raise TypeError(f"confirma.{type(self).__name__} cannot be pickled; create one per process")


class TokenManager(_ManagerBase):
    """Keeps client access tokens alive for years over a store: crash-safe and fleet-safe.

    ``TokenManager(client, store, *, renew_every=None, renew_at_fraction=None, jitter=None, lease=None,
    validate_interval=None, failure_backoff=None, failure_backoff_max=None, poll_interval=None, owner=None,
    key=None, plaintext=None, previous_keys=None)``. Durations are seconds or :class:`datetime.timedelta`;
    ``None`` takes the core's default (renew at 2/3 of a known lifetime, else every 24 h; jitter 0.1;
    validate a stored token on first use unless validated within 1 h; back off 30 s .. 1 h after failures).
    ``key``/``plaintext``/``previous_keys`` are for your own :class:`CredentialStore` only (the built-in
    stores take the key themselves).

    :meth:`token` serves the token from memory (no I/O, GIL kept: about 0.3 µs) until its planned renewal
    time; then the first call renews it (or adopts another instance's renewal) before serving, single-flight
    per process and, through the store's lease, per fleet — so a token served after its renewal time is never
    one being rotated away. Blocking calls
    release the GIL. Thread-safe; one manager per process and environment. After ``os.fork()`` create a new
    client, store and manager in the child. Use it as a context manager or call :meth:`close`.
    """

    def token(self, client_id: str) -> SecretToken:
        """A usable access token for ``client_id``. A failed renewal keeps the current token in service;
        :class:`~confirma.CredentialsLostError` if the credentials are lost."""
        return self._native.token(client_id)

    def status(self, client_id: str) -> CredentialStatus:
        """The credential's status (from the store)."""
        return self._native.status(client_id)  # type: ignore[no-any-return]

    def statuses(self) -> List[CredentialStatus]:
        """Every credential of this environment."""
        return self._native.statuses()  # type: ignore[no-any-return]

    def import_credentials(
        self,
        client_id: str,
        token: "Token",
        customer_code: Optional[str] = None,
        payment_reference_prefix: Optional[str] = None,
    ) -> CredentialStatus:
        """Takes over an existing client's token (validated first: an unknown token is refused). Replaces
        what is stored for the client."""
        return self._native.import_credentials(client_id, token, customer_code, payment_reference_prefix)  # type: ignore[no-any-return]

    def renew_now(self, client_id: str) -> CredentialStatus:
        """Renews now, under the lease (another instance's renewal in progress is waited for and its token
        taken instead)."""
        return self._native.renew_now(client_id)  # type: ignore[no-any-return]

    def reconcile(self) -> List[CredentialStatus]:
        """Resolves interrupted renewals (a crash, a lost answer) of this environment; returns their
        statuses."""
        return self._native.reconcile()  # type: ignore[no-any-return]

    def create_client(self, provisioning_token: "Token", new_client: "NewClientInput") -> CreatedClient:
        """``Client.create_client`` that records the create before sending it and commits the new
        credentials before returning (see ``Client.create_client(..., store=)``)."""
        from ._models import _new_client_value

        return self._native.create_client(provisioning_token, _new_client_value(new_client))

    def discard_pending_create(self, business_code: str) -> bool:
        """Removes a pending create record (after you resolved it by hand)."""
        return bool(self._native.discard_pending_create(business_code))

    def events(self) -> EventStream:
        """A blocking iterator of :class:`TokenEvent` from now on (``for event in manager.events()``); it
        ends when the manager is closed."""
        return EventStream(self._native.events())

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Stops the manager: later calls raise :class:`~confirma.ConfigurationError`, event iterators end,
        the listener thread exits (waited for up to ``timeout`` seconds). A rotation in flight completes
        and is persisted."""
        self._native.close()
        self._listeners.join(timeout)

    def __enter__(self) -> "TokenManager":
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()


class AsyncTokenManager(_ManagerBase):
    """:class:`TokenManager` for asyncio: the same options; the methods are coroutines and :meth:`events`
    is an async iterator. The event loop is never blocked.

    Cancelling a task that awaits :meth:`token` or :meth:`renew_now` only stops the waiting: a rotation the
    core started completes and is persisted (the next call gets the new token). Callbacks added with
    :meth:`on` run on a background thread, not on the event loop (use ``loop.call_soon_threadsafe``).
    """

    async def token(self, client_id: str) -> SecretToken:
        """See :meth:`TokenManager.token`. From memory without a trip round the event loop."""
        ready = self._native.token_now(client_id)
        if ready is not None:
            return ready
        result: SecretToken = await self._native.token_async(client_id)
        return result

    async def status(self, client_id: str) -> CredentialStatus:
        """See :meth:`TokenManager.status`."""
        result: CredentialStatus = await self._native.status_async(client_id)
        return result

    async def statuses(self) -> List[CredentialStatus]:
        """See :meth:`TokenManager.statuses`."""
        result: List[CredentialStatus] = await self._native.statuses_async()
        return result

    async def import_credentials(
        self,
        client_id: str,
        token: "Token",
        customer_code: Optional[str] = None,
        payment_reference_prefix: Optional[str] = None,
    ) -> CredentialStatus:
        """See :meth:`TokenManager.import_credentials`."""
        result: CredentialStatus = await self._native.import_credentials_async(
            client_id, token, customer_code, payment_reference_prefix
        )
        return result

    async def renew_now(self, client_id: str) -> CredentialStatus:
        """See :meth:`TokenManager.renew_now`."""
        result: CredentialStatus = await self._native.renew_now_async(client_id)
        return result

    async def reconcile(self) -> List[CredentialStatus]:
        """See :meth:`TokenManager.reconcile`."""
        result: List[CredentialStatus] = await self._native.reconcile_async()
        return result

    async def create_client(self, provisioning_token: "Token", new_client: "NewClientInput") -> CreatedClient:
        """See :meth:`TokenManager.create_client`."""
        from ._models import _new_client_value

        result: CreatedClient = await self._native.create_client_async(provisioning_token, _new_client_value(new_client))
        return result

    async def discard_pending_create(self, business_code: str) -> bool:
        """See :meth:`TokenManager.discard_pending_create`."""
        return bool(await self._native.discard_pending_create_async(business_code))

    def events(self) -> AsyncEventStream:
        """An async iterator of :class:`TokenEvent` from now on (``async for event in manager.events()``)."""
        return AsyncEventStream(self._native.events())

    async def aclose(self) -> None:
        """See :meth:`TokenManager.close`."""
        self._native.close()

    def close(self) -> None:
        """Synchronous :meth:`aclose`."""
        self._native.close()

    async def __aenter__(self) -> "AsyncTokenManager":
        return self

    async def __aexit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        await self.aclose()

