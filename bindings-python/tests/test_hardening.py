"""Issue 9 for Python: never panic, never hang, never leak, never lose a token.

Panics in native code become ``confirma.InternalError`` (sync and async, the awaitable always settles),
absurd durations are ``ConfigurationError``, a token the service issued is never dropped (partial-success
create, odd renew shape) and never leaks (a generic canary over every part of the error), timestamps never
turn a success into an exception, a cancelled create/renew is never silent, ``SecretToken`` hashes are keyed
per process."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, TypeVar

import pytest

import confirma
from confirma import _native
from conftest import TOKEN_SHAPE, Sandbox, assert_no_token_leak, new_client_dict

CREATE = "/api/v1/partner/client"
VALIDATE = "/api/v1/partner/validate"
RENEW = "/api/v1/partner/renew"

T = TypeVar("T")


def run_async(coro: Awaitable[T], timeout: float = 10) -> T:
    """Runs a coroutine with a deadline: an awaitable that never settles fails the test instead of hanging."""

    async def main() -> T:
        return await asyncio.wait_for(coro, timeout=timeout)

    return asyncio.run(main())


async def until(condition: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def requests_to(sandbox: Sandbox, path: str) -> int:
    count: int = sandbox.state()["requestsByPath"].get(path, 0)
    return count


# ----------------------------------------------------------------------------------------------- panics


def check_internal(err: BaseException) -> None:
    assert isinstance(err, confirma.InternalError), repr(err)
    assert isinstance(err, confirma.ConfirmaError) and isinstance(err, Exception)
    assert err.kind == "internal" and type(err).kind == "internal"
    assert err.code == "CONFIRMA_INTERNAL"
    assert "panic was contained" in err.message
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is confirma.InternalError and str(clone) == str(err) and clone.code == err.code


def test_internal_error_is_public() -> None:
    assert "InternalError" in confirma.__all__
    assert issubclass(confirma.InternalError, confirma.ConfirmaError)
    assert confirma.InternalError.kind == "internal"


@pytest.mark.parametrize("place", ["entry", "blocking"])
def test_panic_in_a_sync_call_is_internal_error(place: str) -> None:
    # Without containment pyo3 raises PanicException, a BaseException that `except Exception` misses.
    try:
        _native._test_panic(place)
    except Exception as err:  # noqa: BLE001
        check_internal(err)
    else:
        pytest.fail("no error")


@pytest.mark.parametrize("place", ["async", "async_convert"])
def test_panic_in_an_async_call_settles_with_internal_error(place: str) -> None:
    async def main() -> None:
        awaitable = _native._test_panic(place)
        # A panicking Rust future used to leave the awaitable pending forever: wait_for turns that into a failure.
        with pytest.raises(confirma.InternalError) as info:
            await asyncio.wait_for(awaitable, timeout=10)
        check_internal(info.value)

    asyncio.run(main())


def test_client_keeps_working_after_contained_panics(sandbox: Sandbox) -> None:
    for _ in range(3):
        with pytest.raises(confirma.InternalError):
            _native._test_panic("blocking")
    with confirma.Client(base_url=sandbox.base_url) as client:
        assert client.validate_token("tok12345").is_valid is False

    async def main() -> None:
        with pytest.raises(confirma.InternalError):
            await _native._test_panic("async")
        async with confirma.AsyncClient(base_url=sandbox.base_url) as client:
            assert (await client.validate_token("tok12345")).is_valid is False

    run_async(main())


# ----------------------------------------------------------------------------------------------- multi-byte input


def multibyte_vat_client(sandbox: Sandbox) -> Dict[str, Any]:
    body = new_client_dict(sandbox.partner_code)
    body["client"]["countryCode"] = "FI"
    body["client"]["vatRegNbr"] = "€1234567"  # 8 characters, 10 bytes
    return body


def check_vat_error(err: confirma.ValidationError, sandbox: Sandbox) -> None:
    assert err.source == "client"
    assert "client.vatRegNbr" in err.field_errors, err.field_errors
    assert requests_to(sandbox, CREATE) == 0  # rejected before sending


def test_multibyte_vat_is_a_validation_error_sync(sandbox: Sandbox) -> None:
    with confirma.Client(base_url=sandbox.base_url, validation="strict") as client:
        with pytest.raises(confirma.ValidationError) as info:
            client.create_client(sandbox.provisioning_token, multibyte_vat_client(sandbox))
    check_vat_error(info.value, sandbox)


def test_multibyte_vat_is_a_validation_error_async(sandbox: Sandbox) -> None:
    async def main() -> confirma.ValidationError:
        async with confirma.AsyncClient(base_url=sandbox.base_url, validation="strict") as client:
            try:
                await asyncio.wait_for(
                    client.create_client(sandbox.provisioning_token, multibyte_vat_client(sandbox)), timeout=10
                )
            except confirma.ValidationError as err:
                return err
        pytest.fail("no ValidationError")

    check_vat_error(asyncio.run(main()), sandbox)


# ----------------------------------------------------------------------------------------------- durations

ABSURD_SECONDS = [sys.maxsize, 10**400, float("nan"), float("inf"), float("-inf"), -1, -0.5, 0, 0.0, 2 * 86400]


@pytest.mark.parametrize("value", ABSURD_SECONDS, ids=repr)
@pytest.mark.parametrize("option", ["timeout", "connect_timeout", "total_timeout"])
@pytest.mark.parametrize("cls", [confirma.Client, confirma.AsyncClient], ids=lambda c: c.__name__)
def test_absurd_durations_are_configuration_errors(cls: Any, option: str, value: Any) -> None:
    with pytest.raises(confirma.ConfigurationError) as info:
        cls(base_url="http://127.0.0.1:9", **{option: value})
    assert option in info.value.message, info.value.message


@pytest.mark.parametrize("value", [10**30, -(10**30), -1, 11])
def test_absurd_retry_counts_are_configuration_errors(value: int) -> None:
    with pytest.raises(confirma.ConfigurationError):
        confirma.Client(base_url="http://127.0.0.1:9", max_retries=value)


def test_sane_durations_still_work(sandbox: Sandbox) -> None:
    with confirma.Client(base_url=sandbox.base_url, timeout=86400, connect_timeout=0.5, total_timeout=3600) as client:
        assert client.validate_token("tok12345").is_valid is False


# ----------------------------------------------------------------------------------------------- tokens never lost or leaked


def partial_success(sandbox: Sandbox, path: str) -> None:
    # create: 201 {"accessToken": ...} without clientId/customerCode (the client really exists);
    # renew: 200 {"result": {"newKey": ...}} (the token really rotated).
    sandbox.fault({"path": path, "kind": "partial_success"})


def check_partial_create(err: confirma.OutcomeUnknownError, sandbox: Sandbox) -> confirma.SecretToken:
    assert err.operation == "create_client"
    assert isinstance(err.__cause__, confirma.ConfirmaError)
    status = err.__cause__.status_code
    assert status is not None and 200 <= status < 300, status
    token = err.recovered_token
    assert isinstance(token, confirma.SecretToken)
    assert TOKEN_SHAPE.fullmatch(token.reveal())
    # The canary: the new token is nowhere in the error, its cause, repr/str/args or pickle.
    assert_no_token_leak(err, [sandbox.provisioning_token, token.reveal()])
    clone = pickle.loads(pickle.dumps(err))
    assert clone.recovered_token is None and clone.raw_response is None
    assert isinstance(clone.__cause__, confirma.ConfirmaError) and clone.__cause__.recovered_token is None
    assert clone.message == err.message
    # Copies stay in the process and keep the token (copy/deepcopy go through __reduce__ otherwise).
    for copied in (copy.copy(err), copy.deepcopy(err)):
        assert type(copied) is type(err) and copied.recovered_token == token and copied.message == err.message
        assert isinstance(copied.__cause__, confirma.ConfirmaError) and copied.__cause__.recovered_token == token
    return token


def test_partial_success_create_recovers_the_token_sync(sandbox: Sandbox) -> None:
    partial_success(sandbox, CREATE)
    body = new_client_dict(sandbox.partner_code)
    with confirma.Client(base_url=sandbox.base_url) as client:
        with pytest.raises(confirma.OutcomeUnknownError) as info:
            client.create_client(sandbox.provisioning_token, body)
        token = check_partial_create(info.value, sandbox)
        assert client.validate_token(token).is_valid  # the client exists and this is its token
        with pytest.raises(confirma.ConflictError):  # a retry cannot get another one
            client.create_client(sandbox.provisioning_token, body)
    assert sandbox.state()["clients"] == 1


def test_partial_success_create_recovers_the_token_async(sandbox: Sandbox) -> None:
    partial_success(sandbox, CREATE)

    async def main() -> None:
        async with confirma.AsyncClient(base_url=sandbox.base_url) as client:
            with pytest.raises(confirma.OutcomeUnknownError) as info:
                await client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
            token = check_partial_create(info.value, sandbox)
            assert (await client.validate_token(token)).is_valid

    run_async(main())


def test_renew_answer_of_unexpected_shape_is_kept_as_a_secret(sandbox: Sandbox) -> None:
    with confirma.Client(base_url=sandbox.base_url) as client:
        created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        partial_success(sandbox, RENEW)
        with pytest.raises(confirma.OutcomeUnknownError) as info:
            client.renew_token(created.access_token)
        err = info.value
        assert err.operation == "renew_token"
        raw = err.raw_response
        assert isinstance(raw, confirma.SecretToken)
        assert_no_token_leak(err, [sandbox.provisioning_token, created.access_token.reveal()])
        clone = pickle.loads(pickle.dumps(err))
        assert clone.raw_response is None and clone.recovered_token is None
        # The new token can be recovered from the raw answer, and it works (the old one was rotated).
        found = TOKEN_SHAPE.findall(raw.reveal())
        assert len(found) == 1, "the raw answer should hold exactly the new token"
        assert client.validate_token(found[0]).is_valid


def test_canary_over_many_errors(sandbox: Sandbox) -> None:
    """Every error the SDK can raise against the sandbox, checked by the generic canary."""
    secrets: List[str] = [sandbox.provisioning_token]
    errors: List[BaseException] = []
    with confirma.Client(base_url=sandbox.base_url, max_retries=0, timeout=1) as client:
        created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        secrets.append(created.access_token.reveal())
        faults = [
            {"kind": "garbage"},
            {"kind": "html", "status": 502},
            {"kind": "status", "status": 500},
            {"kind": "status", "status": 429, "retryAfter": 3},
            {"kind": "truncate"},
            {"kind": "reset"},
            {"kind": "commit_then_drop"},
            {"kind": "delay", "ms": 2500},
        ]
        for fault in faults:
            for path, call in (
                (VALIDATE, lambda: client.validate_token(created.access_token)),
                (RENEW, lambda: client.renew_token(created.access_token)),
                (CREATE, lambda: client.create_client(created.access_token, new_client_dict(sandbox.partner_code))),
            ):
                sandbox.fault({"path": path, **fault})
                try:
                    result = call()
                except confirma.ConfirmaError as err:
                    errors.append(err)
                else:
                    if isinstance(result, confirma.RenewedToken):
                        secrets.append(result.access_token.reveal())
                        created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
                        secrets.append(created.access_token.reveal())
                sandbox.clear_faults()
        for bad in (sandbox.provisioning_token + "x", "cfis_at_" + "A" * 40):
            try:
                client.renew_token(bad)
            except confirma.ConfirmaError as err:
                errors.append(err)
    assert len(errors) >= 20
    for err in errors:
        assert_no_token_leak(err, secrets)


# ----------------------------------------------------------------------------------------------- timestamps

HUNDRED_YEARS = 100 * 365 * 24 * 3600


def advance_years(sandbox: Sandbox, hundreds: int) -> None:
    step = HUNDRED_YEARS if hundreds > 0 else -HUNDRED_YEARS
    for _ in range(abs(hundreds)):
        sandbox.admin("POST", "/_sandbox/clock", {"advanceSeconds": step})


def test_timestamps_beyond_datetime_never_fail_a_success(sandbox: Sandbox) -> None:
    advance_years(sandbox, 81)  # the sandbox's clock is past year 10000: it sends "+101xx-..." timestamps
    latest = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)
    with confirma.Client(base_url=sandbox.base_url) as client:
        created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        # The core does not read a 5-digit year as RFC 3339 (then the expiry is unknown: None); whatever it
        # reads is clamped to year 9999. Either way the create succeeds and its token is delivered.
        assert created.token_expires_at in (None, latest)
        renewed = client.renew_token(created.access_token)
        assert renewed.expires_at in (None, latest)
        assert client.validate_token(renewed.access_token).is_valid


def test_timestamps_before_1970_never_fail_a_success(sandbox: Sandbox) -> None:
    advance_years(sandbox, -1)
    with confirma.Client(base_url=sandbox.base_url) as client:
        created = client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        assert created.token_expires_at == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


# ----------------------------------------------------------------------------------------------- cancellation


def test_cancelled_create_after_sending_is_logged_as_outcome_unknown(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="confirma")
    sandbox.fault({"path": CREATE, "kind": "delay", "ms": 1500})

    async def main() -> None:
        client = confirma.AsyncClient(base_url=sandbox.base_url, max_retries=0)
        task = asyncio.ensure_future(client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code)))
        await until(lambda: requests_to(sandbox, CREATE) >= 1, what="the request to reach the sandbox")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The Rust future is dropped on a runtime thread; the warning reaches `logging` without another call.
        await until(
            lambda: any("cancelled after the request was sent" in r.getMessage() for r in caplog.records),
            what="the cancellation warning",
        )

    run_async(main(), timeout=20)
    records = [r for r in caplog.records if "cancelled after the request was sent" in r.getMessage()]
    assert records[0].levelno == logging.WARNING and records[0].name == "confirma"
    assert "create_client" in records[0].getMessage()
    assert sandbox.provisioning_token not in records[0].getMessage()


def test_async_log_records_arrive_before_the_result(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="confirma")
    sandbox.fault({"path": VALIDATE, "kind": "status", "status": 503, "times": 1, "retryAfter": 0})

    async def main() -> bool:
        async with confirma.AsyncClient(base_url=sandbox.base_url, max_retries=2) as client:
            await client.validate_token("tok12345")
            # Queued on a runtime thread, emitted on this loop's thread before the result was delivered.
            return any("retrying" in r.getMessage() for r in caplog.records)

    assert run_async(main())
    # Emitted by the loop's (here the main) thread: a runtime thread never entered Python to log (it used to
    # take the GIL for every event, stalling the runtime while Python code held it).
    records = [r for r in caplog.records if r.name == "confirma"]
    assert records and all(r.thread == threading.get_ident() for r in records), {r.threadName for r in records}


# ----------------------------------------------------------------------------------------------- SecretToken hash


def test_secret_token_hash_is_keyed_per_process() -> None:
    token = "cfis_at_" + "Q" * 40
    a, b = confirma.SecretToken(token), confirma.SecretToken(token)
    assert hash(a) == hash(b) and a == b and len({a, b}) == 1
    code = f"import confirma; print(hash(confirma.SecretToken({token!r})))"
    hashes = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    # With fixed keys every process computes the same value: the hash would fingerprint the token.
    assert len(hashes) == 2, "SecretToken's hash is the same in every process"


# ----------------------------------------------------------------------------------------------- response size cap


@pytest.mark.parametrize("value", [0, 1023, 64 * 1024 * 1024 + 1, 10**30, -1])
def test_response_cap_out_of_range_is_configuration_error(value: int) -> None:
    with pytest.raises(confirma.ConfigurationError):
        confirma.Client(base_url="http://127.0.0.1:9", max_response_bytes=value)


def test_oversized_responses_are_typed_errors(sandbox: Sandbox) -> None:
    big = '{"isValid": true, "padding": "' + "x" * 4096 + '"}'
    with confirma.Client(base_url=sandbox.base_url, max_response_bytes=1024, max_retries=0) as client:
        sandbox.fault({"path": VALIDATE, "kind": "status", "status": 200, "body": big, "contentType": "application/json"})
        with pytest.raises(confirma.UnexpectedResponseError) as info:
            client.validate_token("tok12345")
        assert "x" * 100 not in str(info.value) and "x" * 100 not in info.value.body_excerpt
        sandbox.fault({"path": CREATE, "kind": "status", "status": 201, "body": big, "contentType": "application/json"})
        with pytest.raises(confirma.OutcomeUnknownError) as ou:
            client.create_client(sandbox.provisioning_token, new_client_dict(sandbox.partner_code))
        assert ou.value.operation == "create_client"
        assert_no_token_leak(ou.value, [sandbox.provisioning_token])
        # The default cap (1 MiB) lets an ordinary answer through.
        assert client.validate_token("tok12345").is_valid is False


# ----------------------------------------------------------------------------------------------- fork hazard

FORK_WHILE_LOGGING = r"""
import logging, os, sys, threading, time
import confirma

base = sys.argv[1]
hit = threading.Event()


class SlowHandler(logging.Handler):
    # Releases the GIL (sleeps) while handling the runtime's "fork detected" record: another thread forks then.
    def emit(self, record: logging.LogRecord) -> None:
        if "fork detected" in record.getMessage() and not hit.is_set():
            hit.set()
            time.sleep(1.0)


logging.getLogger("confirma").addHandler(SlowHandler())
logging.getLogger("confirma").setLevel(logging.DEBUG)
confirma.Client(base_url=base).validate_token("tok12345")  # the parent's runtime

pid = os.fork()
if pid == 0:  # child: a thread builds the child's runtime (logging "fork detected") ...
    code = 1
    try:
        t = threading.Thread(target=lambda: confirma.Client(base_url=base).validate_token("tok12345"))
        t.start()
        assert hit.wait(20), "no 'fork detected' record"
        gpid = os.fork()  # ... and the main thread forks while that record is being handled
        if gpid == 0:  # grandchild: must get its own runtime, not wait on a lock nobody will release
            gcode = 1
            try:
                ok = confirma.Client(base_url=base).validate_token("tok12345").is_valid is False
                gcode = 0 if ok else 3
            finally:
                os._exit(gcode)
        _, status = os.waitpid(gpid, 0)
        t.join()
        code = os.waitstatus_to_exitcode(status)
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_fork_while_the_runtime_is_being_set_up_does_not_hang_the_child(sandbox: Sandbox) -> None:
    # The runtime slot used to be a Mutex held while building the runtime and logging (which can release the
    # GIL): a fork in that window left it locked forever in the child.
    proc = subprocess.Popen(
        [sys.executable, "-c", FORK_WHILE_LOGGING, sandbox.base_url],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("a process forked while the runtime was being set up hung")
    assert proc.returncode == 0, out + err
