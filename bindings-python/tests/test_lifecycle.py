"""The token lifecycle through the public API: stores, TokenManager / AsyncTokenManager, events and callbacks,
create_client(store=), a partner's own store over sqlite3 (conformance, a store that raises), two processes on
one SQLite file, cancellation mid-rotation, os.fork, and no secret in any repr."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest

import confirma
from conftest import REPO_ROOT, Sandbox, assert_no_token_leak, new_client_dict

sys.path.insert(0, str(REPO_ROOT / "examples" / "python"))
from sqlite3_store import Sqlite3CredentialStore  # noqa: E402

RENEW = "/api/v1/partner/renew"


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def requests(sandbox: Sandbox, path: str) -> int:
    return int(sandbox.state().get("requestsByPath", {}).get(path, 0))


def fp(token: confirma.SecretToken) -> str:
    return hashlib.sha256(token.reveal().encode()).hexdigest()


class FlakyStore(Sqlite3CredentialStore):
    """The sqlite3 store whose methods can be made to raise or to return nonsense."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.fail: set = set()
        self.nonsense: set = set()

    def __getattribute__(self, name: str) -> Any:
        if name in ("load", "insert", "compare_and_swap", "delete", "list", "events"):
            if name in object.__getattribute__(self, "fail"):

                def boom(*args: Any) -> Any:
                    raise ConnectionError(f"database unreachable during {name}")

                return boom
            if name in object.__getattribute__(self, "nonsense"):
                return lambda *args: "yes"
        return object.__getattribute__(self, name)


@pytest.fixture
def client(sandbox: Sandbox) -> Any:
    with confirma.Client(base_url=sandbox.base_url) as c:
        yield c


# ---------------------------------------------------------------------------------------------------------
# Stores, options, repr


def test_stores_keys_and_repr_never_show_a_secret(tmp_path: Path, client: confirma.Client, sandbox: Sandbox) -> None:
    key = new_key()
    sqlite = confirma.SqliteStore(tmp_path / "c.db", key=key)
    assert sqlite.encrypted and key not in repr(sqlite) and "c.db" in repr(sqlite)
    assert confirma.SqliteStore(str(tmp_path / "p.db"), plaintext=True).encrypted is False
    with pytest.raises(confirma.StorageError):
        confirma.SqliteStore(tmp_path / "bad.db", key="not a key")
    old = os.environ.pop("CONFIRMA_STORE_KEY", None)
    try:
        with pytest.raises(confirma.StorageError) as e:
            confirma.SqliteStore(tmp_path / "nokey.db")
        assert "CONFIRMA_STORE_KEY" in str(e.value)
        os.environ["CONFIRMA_STORE_KEY"] = key
        assert confirma.SqliteStore(tmp_path / "env.db").encrypted
    finally:
        os.environ.pop("CONFIRMA_STORE_KEY", None)
        if old is not None:
            os.environ["CONFIRMA_STORE_KEY"] = old
    assert confirma.MemoryStore().encrypted
    # A PostgreSQL DSN's password never shows, not even in a connection error.
    with pytest.raises(confirma.StorageError) as pe:
        confirma.PostgresStore("postgres://app:s3cr3t-pw@127.0.0.1:1/credentials", key=key)
    assert_no_token_leak(pe.value, ["s3cr3t-pw", key])
    with pytest.raises(TypeError):
        confirma.SqliteStore(tmp_path / "x.db", key=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pickle_it(sqlite)

    created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code), store=sqlite)
    with confirma.TokenManager(client, sqlite) as m:
        token = m.token(created.client_id)
        status = m.status(created.client_id)
        texts = [repr(sqlite), str(sqlite), repr(m), repr(status), str(status), repr(token), str(token), repr(created)]
        for text in texts:
            assert token.reveal() not in text and key not in text
        assert status.encrypted and status.fingerprint and status.state == "active" and status.health == "healthy"
        assert isinstance(status.last_renewed_at, datetime.datetime) and status.last_renewed_at.tzinfo is not None
        with pytest.raises(TypeError):
            pickle_it(m)
    raw = (tmp_path / "c.db").read_bytes()
    assert token.reveal().encode() not in raw, "the token is stored in clear"


def pickle_it(obj: Any) -> bytes:
    import pickle

    return pickle.dumps(obj)


def test_manager_options_are_the_cores(client: confirma.Client) -> None:
    store = confirma.MemoryStore()
    m = confirma.TokenManager(
        client,
        store,
        renew_every=datetime.timedelta(hours=12),
        renew_at_fraction=0.5,
        jitter=0.2,
        validate_interval=600,
        failure_backoff=1.5,
        failure_backoff_max=datetime.timedelta(minutes=5),
        poll_interval=0.05,
        owner="web-1",
    )
    assert m.owner == "web-1" and m.environment.startswith("http://127.0.0.1")
    m.close()
    assert m.closed
    with pytest.raises(confirma.ConfigurationError, match="closed"):
        m.token("cl_x")
    for bad, name in (
        ({"renew_every": 0}, "renew_every"),
        ({"jitter": 0.9}, "jitter"),
        ({"renew_at_fraction": 1.0}, "renew_at_fraction"),
        ({"failure_backoff": 600, "failure_backoff_max": 60}, "failure_backoff_max"),
        ({"owner": "a\nb"}, "owner"),
        ({"lease": datetime.timedelta(days=400)}, "lease"),
    ):
        with pytest.raises(confirma.ConfigurationError, match=name):
            confirma.TokenManager(client, store, **bad)
    with pytest.raises(TypeError):
        confirma.TokenManager(client, store, renew_every="1h")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        confirma.TokenManager(client, store, jitter=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        confirma.TokenManager("not a client", store)  # type: ignore[arg-type]
    with pytest.raises(confirma.ConfigurationError, match="belong to the store"):
        confirma.TokenManager(client, store, key=new_key())


# ---------------------------------------------------------------------------------------------------------
# The lifecycle, blocking and asyncio


def test_blocking_lifecycle_events_and_callbacks(sandbox: Sandbox, client: confirma.Client, tmp_path: Path) -> None:
    store = confirma.SqliteStore(tmp_path / "c.db", key=new_key())
    seen: List[confirma.TokenEvent] = []
    rotated = threading.Event()
    with confirma.TokenManager(client, store, owner="me") as m:
        m.add_listener(seen.append)
        m.on("rotated", lambda e: rotated.set())
        m.on("rotated", lambda e: 1 / 0)  # a failing listener is logged, the others still run
        stream = m.events()
        created = m.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        assert m.token(created.client_id) == created.access_token
        status = m.renew_now(created.client_id)
        assert (status.state, status.token_version, status.consecutive_failures) == ("active", 2, 0)
        new = m.token(created.client_id)
        assert new != created.access_token
        assert not client.validate_token(created.access_token).is_valid
        assert client.validate_token(new).is_valid
        assert rotated.wait(10)
        kinds = []
        while True:
            e = stream.get(timeout=0.5)
            if e is None:
                break
            kinds.append(e.kind)
            assert new.reveal() not in repr(e) and created.access_token.reveal() not in repr(e)
        assert kinds[:2] == ["create_started", "created"] or "created" in kinds
        assert "renew_started" in kinds and "rotated" in kinds
        wait_for("callbacks", lambda: "rotated" in [e.kind for e in seen])
        assert [s.client_id for s in m.statuses()] == [created.client_id]
        assert m.reconcile() == []
        with pytest.raises(confirma.ValidationError):
            m.import_credentials("cl_unknown", "cfis_at_" + "x" * 40)
        with pytest.raises(confirma.ConfigurationError, match="no credentials stored"):
            m.status("cl_nobody")
    # Closing ends the iterators.
    assert list(stream) == []


def test_asyncio_lifecycle(sandbox: Sandbox) -> None:
    async def flow() -> None:
        store = confirma.MemoryStore()
        async with confirma.AsyncClient(base_url=sandbox.base_url) as client:
            created = await client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code), store=store)
            async with confirma.AsyncTokenManager(client, store) as m:
                events = m.events()
                assert await m.token(created.client_id) == created.access_token
                results = await asyncio.gather(*(m.token(created.client_id) for _ in range(50)))
                assert all(r == created.access_token for r in results)
                status = await m.renew_now(created.client_id)
                assert status.token_version == 2
                kinds = []
                async for e in events:
                    kinds.append(e.kind)
                    if e.kind == "rotated":
                        break
                assert "renew_started" in kinds
                assert (await m.status(created.client_id)).token_version == 2
                assert len(await m.statuses()) == 1
                assert await m.reconcile() == []
                imported = await m.import_credentials("cl_copy", await m.token(created.client_id), customer_code="C1")
                assert imported.customer_code == "C1" and imported.state == "active"

    asyncio.run(flow())


def test_create_client_with_a_store_records_then_commits(sandbox: Sandbox, client: confirma.Client, tmp_path: Path) -> None:
    key = new_key()
    store = confirma.SqliteStore(tmp_path / "c.db", key=key)
    form = new_client_dict(sandbox.partner_code)
    created = client.create_client(sandbox.provisioning_token, form, store=store)
    # A second process (a new store handle) finds the credentials.
    with confirma.TokenManager(client, confirma.SqliteStore(tmp_path / "c.db", key=key)) as m:
        assert m.token(created.client_id) == created.access_token
        assert m.status(created.client_id).customer_code == created.customer_code
    # The same business code again: a conflict, nothing lost.
    with pytest.raises(confirma.ConflictError):
        client.create_client(sandbox.provisioning_token, form, store=store)
    # An outcome-unknown create leaves a pending record, resolved by the next create (never a second client).
    form2 = new_client_dict(sandbox.partner_code)
    sandbox.fault({"kind": "status", "status": 500, "path": "/api/v1/partner/client"})
    with pytest.raises(confirma.OutcomeUnknownError):
        client.create_client(sandbox.provisioning_token, form2, store=store)
    with confirma.TokenManager(client, store) as m:
        assert any(s.state in ("ambiguous", "creating") for s in m.statuses())
    sandbox.clear_faults()
    again = client.create_client(sandbox.provisioning_token, form2, store=store)
    assert again.client_id


# ---------------------------------------------------------------------------------------------------------
# A partner's own store


def test_partner_sqlite3_store_passes_the_conformance_suite(tmp_path: Path) -> None:
    store = Sqlite3CredentialStore(str(tmp_path / "partner.db"))
    assert isinstance(store, confirma.CredentialStore)
    report = confirma.check_store(store)
    assert len(report.splitlines()) >= 8, report
    # A store that breaks the contract fails the suite with a StorageError naming the check.

    class Forgetful(Sqlite3CredentialStore):
        def compare_and_swap(self, expected_revision: int, row: confirma.StoreRow, events: Any) -> bool:
            return True  # claims success, writes nothing

    with pytest.raises(confirma.StorageError) as e:
        confirma.check_store(Forgetful(str(tmp_path / "bad.db")))
    assert "conformance" in str(e.value).lower() or "compare" in str(e.value).lower()
    with pytest.raises(TypeError, match="lacks"):
        confirma.check_store(object())  # type: ignore[arg-type]


@pytest.fixture
def store_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = new_key()
    monkeypatch.setenv("CONFIRMA_STORE_KEY", key)
    return key


def test_partner_store_that_raises_loses_nothing(sandbox: Sandbox, client: confirma.Client, tmp_path: Path, store_key: str) -> None:
    store = FlakyStore(str(tmp_path / "partner.db"))
    created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code), store=store)
    raw = (tmp_path / "partner.db").read_bytes()
    assert created.access_token.reveal().encode() not in raw, "the partner store got the token in clear"
    with confirma.TokenManager(client, store, key=store_key) as m:
        assert m.token(created.client_id) == created.access_token
        before = store.load(m.environment, created.client_id)
        assert before is not None
        # The claim cannot be written: nothing is sent, nothing changes, a typed retryable error.
        store.fail = {"compare_and_swap"}
        with pytest.raises(confirma.StorageError) as e:
            m.renew_now(created.client_id)
        assert e.value.retryable and "ConnectionError" in str(e.value)
        assert_no_token_leak(e.value, [created.access_token.reveal(), store_key])
        assert requests(sandbox, RENEW) == 0
        store.fail = set()
        assert store.load(m.environment, created.client_id) == before
        assert m.token(created.client_id) == created.access_token
        assert client.validate_token(created.access_token).is_valid
        # Nonsense from the store is a StorageError too, never a crash.
        store.nonsense = {"load"}
        with pytest.raises(confirma.StorageError, match="TypeError"):
            m.status(created.client_id)
        store.nonsense = set()
        # Healthy again: the rotation goes through and is persisted in the partner's tables.
        status = m.renew_now(created.client_id)
        assert status.token_version == 2
        assert store.load(m.environment, created.client_id).revision > before.revision  # type: ignore[union-attr]
        kinds = [e.kind for e in store.events(m.environment, created.client_id, 0, 100)]
        assert "rotated" in kinds
    # The same file through a new store object and manager (a restart): the rotated token.
    with confirma.TokenManager(client, Sqlite3CredentialStore(str(tmp_path / "partner.db")), key=store_key) as m2:
        assert client.validate_token(m2.token(created.client_id)).is_valid


def test_partner_store_without_a_key_is_refused(client: confirma.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFIRMA_STORE_KEY", raising=False)
    with pytest.raises(confirma.StorageError, match="CONFIRMA_STORE_KEY"):
        confirma.TokenManager(client, Sqlite3CredentialStore(str(tmp_path / "p.db")))
    m = confirma.TokenManager(client, Sqlite3CredentialStore(str(tmp_path / "p.db")), plaintext=True)
    assert "encrypted=False" in repr(m)
    m.close()


# ---------------------------------------------------------------------------------------------------------
# Fleet, cancellation, fork

FLEET_CHILD = textwrap.dedent(
    """
    import json, os, sys, time, hashlib
    import confirma
    base_url, db, key, client_id, go = sys.argv[1:6]
    with confirma.Client(base_url=base_url) as client, confirma.TokenManager(client, confirma.SqliteStore(db, key=key)) as m:
        m.token(client_id)
        print("ready", flush=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.005)
        status = m.renew_now(client_id)
        token = m.token(client_id)
        print(json.dumps({"version": status.token_version, "sha": hashlib.sha256(token.reveal().encode()).hexdigest()}), flush=True)
    """
)


def test_two_processes_on_one_sqlite_file_renew_once(sandbox: Sandbox, client: confirma.Client, tmp_path: Path) -> None:
    key = new_key()
    db = str(tmp_path / "fleet.db")
    created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code), store=confirma.SqliteStore(db, key=key))
    sandbox.fault({"kind": "delay", "ms": 400, "path": RENEW})
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FLEET_CHILD, sandbox.base_url, db, key, created.client_id, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go.touch()
        outs = [json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs)
    assert [o["version"] for o in outs] == [2, 2]
    assert outs[0]["sha"] == outs[1]["sha"], "the two processes ended on different tokens"
    assert requests(sandbox, RENEW) == 1, "the fleet renewed more than once"


@pytest.mark.parametrize("call", ["renew_now", "token"])
def test_asyncio_cancel_mid_rotation_still_persists(sandbox: Sandbox, tmp_path: Path, call: str) -> None:
    key = new_key()
    db = tmp_path / "c.db"
    if call == "token":
        # A token that expires in 2 s: token() then renews inline (the slow path) before returning.
        sandbox.admin("POST", "/_sandbox/config", {"tokenTtlSeconds": 2})

    async def flow() -> None:
        async with confirma.AsyncClient(base_url=sandbox.base_url) as client:
            store = confirma.SqliteStore(db, key=key)
            created = await client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code), store=store)
            async with confirma.AsyncTokenManager(client, store) as m:
                started = asyncio.Event()
                loop = asyncio.get_running_loop()
                m.on("renew_started", lambda e: loop.call_soon_threadsafe(started.set))
                if call == "token":
                    expires = created.token_expires_at
                    assert expires is not None
                    wait_for("the token to expire", lambda: datetime.datetime.now(datetime.timezone.utc) > expires, 10)
                sandbox.fault({"kind": "delay", "ms": 1000, "path": RENEW})
                task = asyncio.ensure_future(getattr(m, call)(created.client_id))
                await asyncio.wait_for(started.wait(), 10)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                # The core finishes the rotation and persists it.
                deadline = time.monotonic() + 15
                while (await m.status(created.client_id)).token_version < 2:
                    assert time.monotonic() < deadline, "the cancelled rotation was abandoned"
                    await asyncio.sleep(0.02)
                status = await m.status(created.client_id)
                assert status.state == "active"
                new = await m.token(created.client_id)
                assert new != created.access_token
                assert (await client.validate_token(new)).is_valid
        # A fresh manager (a restart) reads the rotated token from the file.
        with confirma.Client(base_url=sandbox.base_url) as c2, confirma.TokenManager(c2, confirma.SqliteStore(db, key=key)) as m2:
            assert m2.token(created.client_id) == new
        assert requests(sandbox, RENEW) == 1

    asyncio.run(flow())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_uses_its_own_manager(sandbox: Sandbox, client: confirma.Client, tmp_path: Path) -> None:
    key = new_key()
    db = str(tmp_path / "c.db")
    store = confirma.SqliteStore(db, key=key)
    created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code), store=store)
    m = confirma.TokenManager(client, store)
    token = m.token(created.client_id)
    events = m.events()
    m.add_listener(lambda e: None)  # a listener thread exists in the parent at fork time
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the child reports through the pipe
        code = 1
        try:
            os.close(r)
            out = []
            try:
                m.token(created.client_id)
                out.append("parent manager usable in child")
            except confirma.ConfigurationError as e:
                out.append("refused" if "fork" in str(e) else f"other: {e}")
            try:
                store.describe()
                confirma.TokenManager(client, store)
                out.append("parent store usable in child")
            except confirma.ConfigurationError:
                out.append("refused")
            with confirma.Client(base_url=sandbox.base_url) as c2, confirma.TokenManager(c2, confirma.SqliteStore(db, key=key)) as m2:
                same = m2.token(created.client_id) == token
                out.append(f"same={same}")
                out.append(f"renewed={m2.renew_now(created.client_id).token_version}")
            os.write(w, json.dumps(out).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.02)
    with os.fdopen(r) as f:
        out = json.loads(f.read() or "null")
    assert os.WEXITSTATUS(status) == 0, out
    assert out == ["refused", "refused", "same=True", "renewed=2"], out
    # The parent's manager still works, and sees the child's rotation on its next renewal.
    assert m.renew_now(created.client_id).token_version == 3
    assert events.get(timeout=5) is not None
    m.close()
    assert events.get(timeout=5) is None


def test_token_service_example_runs_against_the_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    example = REPO_ROOT / "examples" / "python" / "token_service.py"
    env = dict(os.environ, CONFIRMA_STORE_KEY=new_key())
    proc = subprocess.run(
        [sys.executable, str(example), sandbox.base_url, sandbox.provisioning_token, sandbox.partner_code,
         "--db", str(tmp_path / "svc.db"), "--self-test"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "rotated to token version 2; all valid: True" in proc.stdout
    assert "token rotated" in proc.stderr and "start-up check passed" in proc.stderr
    assert sandbox.provisioning_token not in out and env["CONFIRMA_STORE_KEY"] not in out
    assert not confirma.SqliteStore(tmp_path / "svc.db", key=env["CONFIRMA_STORE_KEY"]).describe().endswith("x")
    # The partner store example checks itself.
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "python" / "sqlite3_store.py"), str(tmp_path / "p.db")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0 and "compare-and-set" in proc.stdout, proc.stdout + proc.stderr


PG_URL = os.environ.get("CONFIRMA_TEST_POSTGRES_URL")


@pytest.mark.skipif(not PG_URL, reason="CONFIRMA_TEST_POSTGRES_URL not set (scripts/test runs this under scripts/postgres.sh)")
def test_postgres_store_blocking_and_asyncio(sandbox: Sandbox, client: confirma.Client) -> None:
    assert PG_URL is not None
    key = new_key()
    store = confirma.PostgresStore(PG_URL, key=key)
    password = urllib_password(PG_URL)
    for text in (repr(store), store.describe()):
        assert key not in text and (not password or password not in text), text
    created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code), store=store)
    with confirma.TokenManager(client, store) as m:
        assert m.token(created.client_id) == created.access_token
        assert m.renew_now(created.client_id).token_version == 2

    async def flow() -> None:
        astore = await confirma.PostgresStore.connect_async(PG_URL or "", key=key)
        async with confirma.AsyncClient(base_url=sandbox.base_url) as ac, confirma.AsyncTokenManager(ac, astore) as am:
            status = await am.renew_now(created.client_id)
            assert status.token_version == 3
            assert (await ac.validate_token(await am.token(created.client_id))).is_valid

    asyncio.run(flow())


def urllib_password(url: str) -> Optional[str]:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None


EXIT_CHILD = textwrap.dedent(
    """
    import sys, threading
    import confirma
    base_url, token, partner, db = sys.argv[1:5]
    sys.path.insert(0, sys.argv[5])
    from conftest import new_client_dict
    client = confirma.Client(base_url=base_url)
    store = confirma.SqliteStore(db, plaintext=True)
    m = confirma.TokenManager(client, store)
    seen = threading.Event()
    m.add_listener(lambda e: seen.set())
    events = m.events()
    created = m.create_client(token, new_client_dict(partner))
    assert seen.wait(10)
    threading.Thread(target=lambda: list(events), daemon=True).start()   # a reader blocked at exit
    m.renew_now(created.client_id)
    print("exiting without close", flush=True)
    """
)


def test_exit_with_open_managers_and_blocked_readers_is_clean(sandbox: Sandbox, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", EXIT_CHILD, sandbox.base_url, sandbox.provisioning_token, sandbox.partner_code,
         str(tmp_path / "x.db"), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "exiting without close" in proc.stdout
    assert "Fatal" not in proc.stderr and "panicked" not in proc.stderr, proc.stderr


def test_waiting_releases_the_gil(sandbox: Sandbox, client: confirma.Client) -> None:
    store = confirma.MemoryStore()
    created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code), store=store)
    with confirma.TokenManager(client, store) as m:
        m.token(created.client_id)
        sandbox.fault({"kind": "delay", "ms": 700, "path": RENEW})
        done = threading.Event()
        t = threading.Thread(target=lambda: (m.renew_now(created.client_id), done.set()))
        t.start()
        spins = 0
        while not done.is_set():  # Python keeps running while the other thread waits for the renewal
            spins += 1
        t.join(10)
        assert spins > 10_000, spins
        assert m.status(created.client_id).token_version == 2


class TupleRows(Sqlite3CredentialStore):
    """Returns plain tuples (what a DB-API cursor gives) instead of StoreRow/EventRow."""

    def load(self, environment: str, client_id: str) -> Any:
        row = super().load(environment, client_id)
        return None if row is None else (row.environment, row.client_id, row.revision, row.data)

    def list(self, environment: Optional[str]) -> Any:
        return [(r.environment, r.client_id, r.revision, r.data) for r in super().list(environment)]

    def events(self, environment: Optional[str], client_id: Optional[str], after_seq: int, limit: int) -> Any:
        return [(e.seq, e.environment, e.client_id, e.at, e.kind, e.data) for e in super().events(environment, client_id, after_seq, limit)]


def test_partner_store_may_return_tuples_and_wrong_types_are_storage_errors(tmp_path: Path) -> None:
    assert "compare-and-set" in confirma.check_store(TupleRows(str(tmp_path / "t.db")))

    class IntInsert(Sqlite3CredentialStore):
        def insert(self, row: confirma.StoreRow, events: Any) -> Any:
            super().insert(row, events)
            return 1  # not a bool

    with pytest.raises(confirma.StorageError, match="insert.*bool"):
        confirma.check_store(IntInsert(str(tmp_path / "i.db")))

    class ShortRows(Sqlite3CredentialStore):
        def list(self, environment: Optional[str]) -> Any:
            return [("staging",)]

    with pytest.raises(confirma.StorageError, match="TypeError"):
        confirma.check_store(ShortRows(str(tmp_path / "s.db")))
