"""Python-specific behaviour: inputs, results, exceptions and pickling, redaction, logging, threads, asyncio
concurrency and cancellation, fork, interrupt, packaging."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import gc
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

import pytest

import confirma
from conftest import REPO_ROOT, Sandbox, business_id, new_client_dict

# ----------------------------------------------------------------------------------------------- packaging


def test_imported_from_the_installed_wheel() -> None:
    source = (REPO_ROOT / "bindings-python" / "python").resolve()
    installed = Path(confirma.__file__).resolve()
    assert source not in installed.parents, f"confirma imported from the source tree: {installed}"
    assert "site-packages" in installed.parts
    pkg = installed.parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "_native.pyi").exists()
    assert confirma.SecretToken.__module__ == "confirma"
    assert confirma.__version__


def test_public_names() -> None:
    for name in confirma.__all__:
        assert hasattr(confirma, name), name
    assert issubclass(confirma.TimeoutError, confirma.ConfirmaError)
    assert issubclass(confirma.TimeoutError, TimeoutError)
    for cls in (
        confirma.ValidationError,
        confirma.AuthenticationError,
        confirma.PermissionDeniedError,
        confirma.ConflictError,
        confirma.RateLimitError,
        confirma.ServiceUnavailableError,
        confirma.NetworkError,
        confirma.OutcomeUnknownError,
        confirma.UnexpectedResponseError,
        confirma.ConfigurationError,
        confirma.InternalError,
    ):
        assert issubclass(cls, confirma.ConfirmaError)


def test_user_agent_names_python() -> None:
    client = confirma.Client(base_url="http://127.0.0.1:1", user_agent_suffix="myapp/1.2")
    ua = client.user_agent
    assert ua.startswith("confirma-sdk/")
    assert f"python/{sys.version_info.major}.{sys.version_info.minor}" in ua
    assert "confirma-python/" in ua and ua.endswith("myapp/1.2")


# ----------------------------------------------------------------------------------------------- inputs


def test_dict_camel_and_snake_and_classes(sandbox: Sandbox) -> None:
    with confirma.Client(base_url=sandbox.base_url) as client:
        camel = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        snake = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code, snake=True))
        bid = business_id()
        typed = confirma.NewClient(
            service=confirma.Service(type=confirma.ServiceType.LIFECYCLE, partner_code=sandbox.partner_code),
            client=confirma.ClientDetails(
                name="Luokka Oy",
                business_code=bid,
                vat_reg_nbr="FI" + bid.replace("-", ""),
                postal_address="Testikuja 7",
                postal_code="00100",
                postal_district="HELSINKI",
                country_code="FI",
                email="laskutus@luokka.fi",
                language_code="FI",
            ),
            contacts=[
                confirma.Contact(role=confirma.ContactRole.PRIMARY, name="Maija", email="maija@luokka.fi"),
                confirma.Contact(role="technical", name="Teemu", email="teemu@luokka.fi", telephone="+358401234567"),
            ],
        )
        from_classes = client.create_client(confirma.SecretToken(sandbox.provisioning_token), typed)
        # Parts of the typed model nested in a dict work too.
        mixed = new_client_dict(sandbox.partner_code)
        mixed["service"] = confirma.Service(type="LIFECYCLE", partner_code=sandbox.partner_code)
        from_mixed = client.create_client(sandbox.provisioning_token, mixed)
    ids = {c.client_id for c in (camel, snake, from_classes, from_mixed)}
    assert len(ids) == 4
    assert sandbox.state()["clients"] == 4


def test_typed_model_is_validated_by_the_core(sandbox: Sandbox) -> None:
    bad = confirma.NewClient(
        service=confirma.Service(type="LIFECYCLE", partner_code=sandbox.partner_code),
        client=confirma.ClientDetails(
            name="",
            business_code="1234567-8",
            postal_address="Testikuja 7",
            postal_code="1",
            postal_district="HELSINKI",
            country_code="FI",
            email="not-an-email",
            language_code="FI",
        ),
        contacts=[],
    )
    with confirma.Client(base_url=sandbox.base_url) as client:
        with pytest.raises(confirma.ValidationError) as info:
            client.create_client(sandbox.provisioning_token, bad)
    err = info.value
    assert err.source == "client"
    assert {"client.name", "client.email", "client.postalCode", "client.businessCode", "contacts"} <= set(err.field_errors)
    assert all(isinstance(v, list) and v for v in err.field_errors.values())
    assert sandbox.state()["requestsServed"] == 0


@pytest.mark.parametrize(
    "token",
    [None, 12345, b"bytes-token", ["x"], object()],
    ids=["None", "int", "bytes", "list", "object"],
)
def test_token_of_wrong_type_is_type_error(token: Any) -> None:
    client = confirma.Client(base_url="http://127.0.0.1:1")
    with pytest.raises(TypeError, match="str or confirma.SecretToken"):
        client.validate_token(token)
    with pytest.raises(TypeError):
        confirma.SecretToken(token)


def test_bad_token_values_are_validation_errors() -> None:
    client = confirma.Client(base_url="http://127.0.0.1:1")
    for token in ["", "x" * 1_000_000, "has space", "line\nbreak", "\ud800surrogate", "ääkkönen"]:
        with pytest.raises(confirma.ValidationError) as info:
            client.renew_token(token)
        assert list(info.value.field_errors) == ["token"]
        assert token[:20] not in str(info.value) or token == ""


@pytest.mark.parametrize("value", [None, "{}", 42, [], ("a",)], ids=["None", "str", "int", "list", "tuple"])
def test_new_client_of_wrong_type_is_type_error(value: Any) -> None:
    client = confirma.Client(base_url="http://127.0.0.1:1")
    with pytest.raises(TypeError, match="NewClient or a dict"):
        client.create_client("tok12345", value)


def test_odd_values_inside_dict_give_field_paths(sandbox: Sandbox) -> None:
    client = confirma.Client(base_url=sandbox.base_url)
    body = new_client_dict(sandbox.partner_code)
    body["client"]["name"] = dt.datetime.now()
    with pytest.raises(confirma.ValidationError) as info:
        client.create_client(sandbox.provisioning_token, body)
    assert "client.name" in info.value.field_errors
    body = new_client_dict(sandbox.partner_code)
    body["client"]["postalCode"] = float("nan")
    with pytest.raises(confirma.ValidationError) as info:
        client.create_client(sandbox.provisioning_token, body)
    assert "client.postalCode" in info.value.field_errors
    body = new_client_dict(sandbox.partner_code)
    body[1] = "x"  # type: ignore[index]
    with pytest.raises(confirma.ValidationError):
        client.create_client(sandbox.provisioning_token, body)
    deep: Dict[str, Any] = {}
    cur = deep
    for _ in range(10_000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(confirma.ValidationError, match="nested too deeply"):
        client.create_client(sandbox.provisioning_token, deep)
    huge = new_client_dict(sandbox.partner_code)
    huge["client"]["name"] = "N" * 5_000_000
    with pytest.raises(confirma.ConfirmaError):
        client.create_client(sandbox.provisioning_token, huge)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"environment": "dev"},
        {"base_url": "http://example.com"},
        {"base_url": "ftp://127.0.0.1"},
        {"base_url": "not a url"},
        {"timeout": 0},
        {"timeout": -1.5},
        {"total_timeout": float("inf")},
        {"connect_timeout": float("nan")},
        {"max_retries": -1},
        {"max_retries": 11},
        {"validation": "paranoid"},
        {"user_agent_suffix": "bad\nvalue"},
        {"proxy": "::::"},
        {"root_certificates_pem": "not a certificate"},
    ],
)
def test_bad_options_are_configuration_errors(kwargs: Dict[str, Any]) -> None:
    with pytest.raises(confirma.ConfigurationError) as info:
        confirma.Client(**kwargs)
    assert info.value.kind == "configuration" and info.value.status_code is None


@pytest.mark.parametrize(
    "kwargs", [{"timeout": "30"}, {"max_retries": 1.5}, {"max_retries": True}, {"base_url": 5}, {"environment": None}]
)
def test_option_of_wrong_type_is_type_error(kwargs: Dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        confirma.Client(**kwargs)


def test_environments_resolve() -> None:
    assert confirma.Client().base_url == "https://staging-integrations.confirmafinance.com/"
    assert confirma.Client("production").base_url == "https://integrations.confirmafinance.com/"


def test_closed_client_raises(sandbox: Sandbox) -> None:
    with confirma.Client(base_url=sandbox.base_url) as client:
        pass
    assert client.closed
    with pytest.raises(confirma.ConfigurationError, match="closed"):
        client.validate_token("tok12345")


# ----------------------------------------------------------------------------------------------- results


def test_results_are_frozen_typed_and_redacted(sandbox: Sandbox) -> None:
    with confirma.Client(base_url=sandbox.base_url) as client:
        created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        raw = created.access_token.reveal()
        status = client.validate_token(created.access_token)
        renewed = client.renew_token(raw)
    assert isinstance(created.token_expires_at, dt.datetime)
    assert created.token_expires_at.tzinfo is not None
    assert created.token_expires_at > dt.datetime.now(dt.timezone.utc)
    assert renewed.expires_at is not None and renewed.expires_at.utcoffset() == dt.timedelta(0)
    for obj in (created, renewed, created.access_token, renewed.access_token):
        for text in (repr(obj), str(obj), f"{obj}", "%s" % (obj,)):
            assert raw not in text and renewed.access_token.reveal() not in text
    assert "[REDACTED]" in repr(created) and created.client_id in repr(created)
    assert status == confirma.TokenStatus(is_valid=True, expired=False, message=status.message)
    assert bool(status) is True
    assert pickle.loads(pickle.dumps(status)) == status
    for obj, attr in ((created, "client_id"), (status, "is_valid"), (renewed, "access_token")):
        with pytest.raises(AttributeError):
            setattr(obj, attr, None)
    for secretive in (created, renewed, created.access_token):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(secretive)
    token = created.access_token
    assert copy.copy(token) is token and copy.deepcopy(token) is token
    assert token == confirma.SecretToken(raw) and token != raw and hash(token) == hash(confirma.SecretToken(raw))


# ----------------------------------------------------------------------------------------------- exceptions


def _make_errors(sandbox: Sandbox) -> Dict[str, confirma.ConfirmaError]:
    errors: Dict[str, confirma.ConfirmaError] = {}

    def catch(name: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except confirma.ConfirmaError as e:
            errors[name] = e
        else:
            pytest.fail(f"{name}: no error")

    fast = dict(base_url=sandbox.base_url, max_retries=0)
    client = confirma.Client(**fast)  # type: ignore[arg-type]
    body = new_client_dict(sandbox.partner_code)
    created = client.create_client(sandbox.provisioning_token, body)
    token = created.access_token
    catch("validation", client.create_client, sandbox.provisioning_token, {"service": {}})
    catch("authentication", client.renew_token, "unknown-token-123456")
    catch("permission_denied", client.create_client, token, new_client_dict(sandbox.partner_code))
    catch("conflict", client.create_client, sandbox.provisioning_token, body)
    sandbox.fault({"path": "/api/v1/partner/validate", "kind": "status", "status": 429, "retryAfter": 7})
    catch("rate_limited", client.validate_token, token)
    sandbox.fault({"path": "/api/v1/partner/validate", "kind": "status", "status": 503})
    catch("service_unavailable", client.validate_token, token)
    sandbox.fault({"path": "/api/v1/partner/validate", "kind": "delay", "ms": 1500})
    catch("timeout", confirma.Client(base_url=sandbox.base_url, max_retries=0, timeout=0.2).validate_token, token)
    catch("network", confirma.Client(base_url="http://127.0.0.1:1", max_retries=0).validate_token, token)
    sandbox.fault({"path": "/api/v1/partner/renew", "kind": "status", "status": 500})
    catch("outcome_unknown", client.renew_token, token)
    sandbox.fault({"path": "/api/v1/partner/validate", "kind": "garbage"})
    catch("unexpected_response", client.validate_token, token)
    catch("configuration", confirma.Client, "dev")
    sandbox.clear_faults()
    return errors


def test_every_kind_maps_to_its_class_with_attributes_and_pickles(sandbox: Sandbox) -> None:
    errors = _make_errors(sandbox)
    assert len(errors) == 11
    for kind, err in errors.items():
        assert err.kind == kind and type(err).kind == kind
        assert err.code == "CONFIRMA_" + kind.upper()
        assert isinstance(err.message, str) and err.message and err.message in str(err)
        assert isinstance(err.retryable, bool)
        clone = pickle.loads(pickle.dumps(err))
        assert type(clone) is type(err)
        assert str(clone) == str(err) and repr(clone) == repr(err)
        assert clone.__dict__ == err.__dict__
        if kind not in ("validation", "configuration", "network", "timeout"):
            assert isinstance(err.status_code, int)
        if kind not in ("configuration", "validation"):
            assert err.request_id
    v = errors["validation"]
    assert isinstance(v, confirma.ValidationError) and v.source == "client" and "service.partnerCode" in v.field_errors
    rl = errors["rate_limited"]
    assert isinstance(rl, confirma.RateLimitError) and rl.retry_after == 7.0 and rl.status_code == 429 and rl.retryable
    su = errors["service_unavailable"]
    assert isinstance(su, confirma.ServiceUnavailableError) and su.status_code == 503
    assert isinstance(errors["timeout"], TimeoutError) and errors["timeout"].retryable
    ou = errors["outcome_unknown"]
    assert isinstance(ou, confirma.OutcomeUnknownError) and ou.operation == "renew_token"
    assert isinstance(ou.__cause__, confirma.ServiceUnavailableError) and ou.cause is ou.__cause__
    assert ou.__cause__.status_code == 500
    clone = pickle.loads(pickle.dumps(ou))
    assert isinstance(clone, confirma.OutcomeUnknownError)
    assert isinstance(clone.__cause__, confirma.ServiceUnavailableError)
    assert clone.__cause__.status_code == 500 and clone.operation == "renew_token"
    ur = errors["unexpected_response"]
    assert isinstance(ur, confirma.UnexpectedResponseError) and isinstance(ur.body_excerpt, str)


def test_catching_base_class_and_builtin_timeout(sandbox: Sandbox) -> None:
    sandbox.fault({"path": "/api/v1/partner/validate", "kind": "delay", "ms": 1000})
    client = confirma.Client(base_url=sandbox.base_url, timeout=0.2, max_retries=0)
    with pytest.raises(TimeoutError):
        client.validate_token("tok12345")


# ----------------------------------------------------------------------------------------------- logging


def test_log_records_go_to_confirma_logger_and_are_redacted(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="confirma")
    secrets: List[str] = [sandbox.provisioning_token]
    with confirma.Client(base_url=sandbox.base_url, max_retries=2) as client:
        created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        secrets.append(created.access_token.reveal())
        sandbox.fault({"path": "/api/v1/partner/validate", "kind": "status", "status": 503, "times": 1, "retryAfter": 0})
        client.validate_token(created.access_token)
        renewed = client.renew_token(created.access_token)
        secrets.append(renewed.access_token.reveal())
        with pytest.raises(confirma.AuthenticationError):
            client.renew_token(created.access_token)
    records = [r for r in caplog.records if r.name == "confirma"]
    assert any(r.levelno == logging.WARNING and "retrying" in r.getMessage() for r in records), records
    assert any(r.levelno == logging.DEBUG for r in records)
    for r in records:
        text = r.getMessage() + repr(r.__dict__)
        for s in secrets:
            assert s not in text
    assert any(getattr(r, "confirma_fields", None) for r in records)


def test_logging_silenced_by_default_level(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="confirma")
    confirma.Client(base_url=sandbox.base_url).validate_token("tok12345")
    assert not [r for r in caplog.records if r.name == "confirma"]


# ----------------------------------------------------------------------------------------------- concurrency


def test_threads_share_one_client(sandbox: Sandbox) -> None:
    with confirma.Client(base_url=sandbox.base_url) as client:
        created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(lambda _: client.validate_token(created.access_token), range(200)))
    assert all(r.is_valid for r in results)
    assert sandbox.state()["requestsServed"] == 201


def test_blocking_call_releases_the_gil(sandbox: Sandbox) -> None:
    sandbox.fault({"path": "/api/v1/partner/validate", "kind": "delay", "ms": 800})
    client = confirma.Client(base_url=sandbox.base_url)
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        client.validate_token("tok12345")
    finally:
        stop.set()
        t.join()
    assert ticks > 100, f"the spinning thread only ran {ticks} times during the call"


def test_asyncio_hundreds_in_flight(sandbox: Sandbox) -> None:
    async def main() -> List[confirma.TokenStatus]:
        async with confirma.AsyncClient(base_url=sandbox.base_url) as client:
            created = await client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
            sandbox.fault({"path": "/api/v1/partner/validate", "kind": "delay", "ms": 300, "times": 400})
            started = time.monotonic()
            results = await asyncio.gather(*(client.validate_token(created.access_token) for _ in range(400)))
            elapsed = time.monotonic() - started
            # One after another they would take 400 x 0.3 s = 120 s; concurrently about 0.3 s. A third of the
            # serial time proves concurrency with a real margin for a loaded 2-core machine.
            assert elapsed < 40, f"400 concurrent 300 ms calls took {elapsed:.1f}s"
            return list(results)

    results = asyncio.run(main())
    assert len(results) == 400 and all(r.is_valid for r in results)


def test_async_event_loop_stays_responsive(sandbox: Sandbox) -> None:
    sandbox.fault({"path": "/api/v1/partner/validate", "kind": "delay", "ms": 600})

    async def main() -> int:
        client = confirma.AsyncClient(base_url=sandbox.base_url)
        ticks = 0
        call = asyncio.ensure_future(client.validate_token("tok12345"))
        while not call.done():
            ticks += 1
            await asyncio.sleep(0.01)
        await call
        return ticks

    assert asyncio.run(main()) > 20


def test_cancelling_the_task_cancels_the_request(sandbox: Sandbox) -> None:
    # The sandbox answers after 20 s (and finishes the operation even if the client goes away), so only the
    # binding dropping the Rust future can end the native call earlier: asyncio cancelling its own future is
    # not enough for this test to pass.
    validate = "/api/v1/partner/validate"
    sandbox.fault({"path": validate, "kind": "delay", "ms": 20000, "times": 2})
    active = confirma._native._active_async_calls

    async def until(condition: Any, what: str) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.02)

    def requests() -> int:
        count: int = sandbox.state()["requestsByPath"].get(validate, 0)
        return count

    async def main() -> None:
        client = confirma.AsyncClient(base_url=sandbox.base_url, max_retries=0)
        before = active()
        task = asyncio.ensure_future(client.validate_token("tok12345"))
        await until(lambda: requests() == 1, "the request to reach the sandbox")
        assert active() == before + 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(lambda: active() == before, "the native call to end after cancel()")
        # wait_for cancels too.
        call = client.validate_token("tok12345")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(call, timeout=0.5)
        await until(lambda: active() == before, "the native call to end after wait_for timed out")
        # The client keeps working afterwards.
        sandbox.clear_faults()
        status = await client.validate_token("tok12345")
        assert status.is_valid is False

    asyncio.run(main())


def test_cancel_after_the_native_call_completed_discards_the_result(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    # The native call finishes while the loop thread is busy, so its result waits in the loop's bridge; the task
    # is cancelled before the loop settles it. The future stays cancelled (the bridge leaves a done future
    # alone), the binding says a finished call's result was discarded, and the bridge keeps working.
    caplog.set_level(logging.WARNING, logger="confirma")
    active = confirma._native._active_async_calls

    async def main() -> None:
        client = confirma.AsyncClient(base_url=sandbox.base_url, max_retries=0)
        assert (await client.validate_token("tok12345")).is_valid is False  # pooled connection, bridge in place
        def requests() -> int:
            count: int = sandbox.state()["requestsByPath"].get("/api/v1/partner/validate", 0)
            return count

        # A call's result can reach the loop a moment before the runtime counts the call as over.
        deadline = time.monotonic() + 10
        while active() != 0:
            assert time.monotonic() < deadline, "earlier native calls did not end"
            await asyncio.sleep(0.005)
        sent = requests()
        task = asyncio.ensure_future(client.validate_token("tok12345"))
        await asyncio.sleep(0)  # the task starts the native call
        # Blocks the loop thread until the sandbox has answered and the native call is over: its completion
        # is queued in the bridge, not settled.
        while requests() == sent or active() != 0:
            assert time.monotonic() < deadline, "the native call did not finish"
            time.sleep(0.005)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await client.validate_token("tok12345")).is_valid is False

    asyncio.run(main())
    assert any("cancelled after it had completed" in r.getMessage() for r in caplog.records)


def test_async_errors_and_parity(sandbox: Sandbox) -> None:
    async def main() -> None:
        client = confirma.AsyncClient(base_url=sandbox.base_url, max_retries=0)
        with pytest.raises(confirma.ValidationError) as info:
            await client.create_client(sandbox.provisioning_token, {"service": {}})
        sync_client = confirma.Client(base_url=sandbox.base_url, max_retries=0)
        with pytest.raises(confirma.ValidationError) as sync_info:
            sync_client.create_client(sandbox.provisioning_token, {"service": {}})
        assert info.value.field_errors == sync_info.value.field_errors
        with pytest.raises(TypeError):
            await client.validate_token(None)  # type: ignore[arg-type]
        with pytest.raises(confirma.AuthenticationError):
            await client.renew_token("unknown-token-123456")

    asyncio.run(main())


def test_async_client_used_from_several_event_loops(sandbox: Sandbox) -> None:
    client = confirma.AsyncClient(base_url=sandbox.base_url)
    for _ in range(3):
        assert asyncio.run(client.validate_token("tok12345")).is_valid is False


def test_async_call_outside_event_loop_raises() -> None:
    client = confirma.AsyncClient(base_url="http://127.0.0.1:1")
    coro = client.validate_token("tok12345")
    with pytest.raises(RuntimeError):
        coro.send(None)
    coro.close()


# ----------------------------------------------------------------------------------------------- fork / signals


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_fork_child_gets_clear_error_then_new_client_works(sandbox: Sandbox) -> None:
    parent_client = confirma.Client(base_url=sandbox.base_url, timeout=3.0, max_retries=0)
    created = parent_client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
    assert parent_client.validate_token(created.access_token).is_valid
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read_fd)
            msgs = []
            try:
                parent_client.validate_token(created.access_token)
                msgs.append("old client worked?!")
            except confirma.ConfigurationError as e:
                msgs.append("old:" + ("fork" in str(e) and "ok" or str(e)))
            # Freeing the parent's client in the child must not disturb the parent's connections.
            del parent_client
            gc.collect()
            fresh = confirma.Client(base_url=sandbox.base_url)
            msgs.append("new:" + str(fresh.validate_token(created.access_token).is_valid))

            async def use_async() -> bool:
                return (await confirma.AsyncClient(base_url=sandbox.base_url).validate_token(created.access_token)).is_valid

            msgs.append("async:" + str(asyncio.run(use_async())))
            os.write(write_fd, ";".join(msgs).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.05)
    out = os.read(read_fd, 4096).decode()
    os.close(read_fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out
    assert out == "old:ok;new:True;async:True"
    # The parent's client (and its pooled connection) still works.
    started = time.monotonic()
    assert parent_client.validate_token(created.access_token).is_valid
    assert time.monotonic() - started < 1


def test_ctrl_c_interrupts_a_blocking_call(sandbox: Sandbox) -> None:
    sandbox.fault({"path": "/api/v1/partner/validate", "kind": "delay", "ms": 20000})
    code = (
        "import confirma, sys\n"
        f"c = confirma.Client(base_url={sandbox.base_url!r}, timeout=60, total_timeout=60)\n"
        "print('ready', flush=True)\n"
        "try:\n"
        "    c.validate_token('tok12345')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 3 and "interrupted" in out
    assert time.monotonic() - started < 2


def test_interpreter_exits_cleanly_with_calls_in_flight(sandbox: Sandbox) -> None:
    code = (
        "import asyncio, confirma, threading\n"
        f"url = {sandbox.base_url!r}\n"
        "async def main():\n"
        "    c = confirma.AsyncClient(base_url=url)\n"
        "    await asyncio.gather(*(c.validate_token('tok12345') for _ in range(50)))\n"
        "    for _ in range(20): asyncio.ensure_future(c.validate_token('tok12345'))\n"
        "asyncio.run(main())\n"
        "print('done')\n"
    )
    for _ in range(5):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr
