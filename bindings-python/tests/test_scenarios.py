"""Runs every language-neutral scenario in tests/scenarios/*.json through the public API, with the blocking
Client and with the AsyncClient (parity)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import confirma
from conftest import KIND_CLASSES, REPO_ROOT, Sandbox, assert_no_token_leak

SCENARIOS = sorted((REPO_ROOT / "tests" / "scenarios").glob("*.json"))

# Every key a scenario may use (tests/scenarios/README.md). Anything else fails the scenario: a key this
# runner does not know would otherwise be ignored silently.
SCENARIO_KEYS = {"name", "description", "client", "sandboxConfig", "steps"}
CLIENT_KEYS = {"validation", "maxRetries", "timeoutMs", "connectTimeoutMs", "totalTimeoutMs"}
STEP_KEYS = {
    "createClient": {"op", "token", "newClient", "save", "expect"},
    "validateToken": {"op", "token", "expect"},
    "renewToken": {"op", "token", "save", "expect"},
    "fault": {"op", "fault"},
    "clearFaults": {"op"},
    "advanceClock": {"op", "seconds"},
    "sleep": {"op", "ms"},
    "expectState": {"op", "state"},
}
EXPECT_KEYS = {"ok", "result", "error"}
RESULT_KEYS = {"isValid", "expired", "message", "hasExpiry"}
ERROR_KEYS = {
    "kind",
    "source",
    "fields",
    "status",
    "retryable",
    "retryAfterSeconds",
    "causeKind",
    "recoveredToken",
    "rawResponse",
}


def check_keys(where: str, obj: Dict[str, Any], known: Any) -> None:
    unknown = sorted(set(obj) - set(known))
    assert not unknown, f"{where}: unknown scenario keys {unknown} (teach the runner or fix the scenario)"


def test_scenarios_found() -> None:
    assert SCENARIOS, f"no scenario files under {REPO_ROOT / 'tests' / 'scenarios'}"


class Runner:
    def __init__(self, sandbox: Sandbox, scenario: Dict[str, Any], mode: str) -> None:
        self.sandbox = sandbox
        self.scenario = scenario
        self.mode = mode
        check_keys("scenario", scenario, SCENARIO_KEYS)
        self.saved: Dict[str, confirma.SecretToken] = {}
        self.secrets: List[str] = [sandbox.provisioning_token]
        opts = scenario.get("client") or {}
        check_keys("client", opts, CLIENT_KEYS)
        kwargs: Dict[str, Any] = {"base_url": sandbox.base_url}
        if "validation" in opts:
            kwargs["validation"] = opts["validation"]
        if "maxRetries" in opts:
            kwargs["max_retries"] = opts["maxRetries"]
        for key, name in (("timeoutMs", "timeout"), ("connectTimeoutMs", "connect_timeout"), ("totalTimeoutMs", "total_timeout")):
            if key in opts:
                kwargs[name] = opts[key] / 1000.0
        self.client: Any = confirma.AsyncClient(**kwargs) if mode == "async" else confirma.Client(**kwargs)
        if mode == "async":
            self.loop = asyncio.new_event_loop()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            ref = value[1:]
            if ref == "provisioningToken":
                return self.sandbox.provisioning_token
            if ref == "partnerCode":
                return self.sandbox.partner_code
            name, _, attr = ref.partition(".")
            if name in self.saved and attr == "accessToken":
                return self.saved[name].reveal()
            return value
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def call(self, method: str, *args: Any) -> Any:
        fn = getattr(self.client, method)
        if self.mode == "async":
            return self.loop.run_until_complete(fn(*args))
        return fn(*args)

    def run(self) -> None:
        try:
            for i, step in enumerate(self.scenario["steps"]):
                self.step(i, step)
        finally:
            self.client.close()
            if self.mode == "async":
                self.loop.close()

    def step(self, i: int, step: Dict[str, Any]) -> None:
        op = step["op"]
        where = f"step {i} ({op})"
        assert op in STEP_KEYS, f"{where}: unknown op"
        check_keys(where, step, STEP_KEYS[op])
        if op == "fault":
            self.sandbox.fault(step["fault"])
            return
        if op == "clearFaults":
            self.sandbox.clear_faults()
            return
        if op == "advanceClock":
            self.sandbox.admin("POST", "/_sandbox/clock", {"advanceSeconds": step["seconds"]})
            return
        if op == "sleep":
            time.sleep(step["ms"] / 1000.0)
            return
        if op == "expectState":
            state = self.sandbox.state()
            for key, want in step["state"].items():
                assert state.get(key) == want, f"{where}: state[{key!r}] = {state.get(key)!r}, want {want!r}"
            return
        token = self.resolve(step.get("token"))
        if op == "createClient":
            args: tuple = (token, self.resolve(step["newClient"]))
            method = "create_client"
        elif op == "validateToken":
            args, method = (token,), "validate_token"
        elif op == "renewToken":
            args, method = (token,), "renew_token"
        else:
            pytest.fail(f"{where}: unknown op")
        expect = step["expect"]
        check_keys(f"{where} expect", expect, EXPECT_KEYS)
        assert ("error" in expect) != (expect.get("ok") is True), f"{where}: expect needs exactly one of ok: true / error"
        assert "result" not in expect or "error" not in expect, f"{where}: result given for an expected error"
        try:
            result = self.call(method, *args)
        except confirma.ConfirmaError as err:
            self.check_error(where, err, expect)
            if "save" in step:
                # A failed call saves the token it recovered (a partial-success create): the caller must store
                # it, and the scenario goes on with it.
                assert err.recovered_token is not None, f"{where}: save given, but the error recovered no token"
                self.saved[step["save"]] = err.recovered_token
                self.secrets.append(err.recovered_token.reveal())
            return
        assert "error" not in expect, f"{where}: expected {expect['error']}, got success {result!r}"
        self.check_result(where, result, expect.get("result") or {})
        if "save" in step:
            self.saved[step["save"]] = result.access_token
            self.secrets.append(result.access_token.reveal())
        for secret in self.secrets:
            assert secret not in repr(result)

    def check_result(self, where: str, result: Any, want: Dict[str, Any]) -> None:
        check_keys(f"{where} result", want, RESULT_KEYS)
        for key, value in want.items():
            if key == "hasExpiry":
                expires = getattr(result, "token_expires_at", None) if hasattr(result, "token_expires_at") else result.expires_at
                assert (expires is not None) == value, f"{where}: hasExpiry {expires!r}"
                if expires is not None:
                    assert expires.tzinfo is not None
            else:
                attr = {"isValid": "is_valid", "expired": "expired", "message": "message"}[key]
                assert getattr(result, attr) == value, f"{where}: {attr} = {getattr(result, attr)!r}, want {value!r}"

    def check_error(self, where: str, err: confirma.ConfirmaError, expect: Dict[str, Any]) -> None:
        assert "error" in expect, f"{where}: unexpected {err!r}"
        want = expect["error"]
        check_keys(f"{where} error", want, ERROR_KEYS)
        for text in (str(err), repr(err), err.message, str(err.__cause__ or "")):
            for secret in self.secrets:
                assert secret not in text, f"{where}: a token leaked into the error text"
        # Every attribute, the cause chain, args and the pickle: no token-shaped string at all.
        assert_no_token_leak(err, self.secrets)
        assert err.kind == want["kind"], f"{where}: kind {err.kind!r} ({err}), want {want['kind']!r}"
        assert isinstance(err, KIND_CLASSES[want["kind"]])
        assert err.code == "CONFIRMA_" + want["kind"].upper()
        if "source" in want:
            assert isinstance(err, confirma.ValidationError)
            assert err.source == want["source"], where
        if "fields" in want:
            assert isinstance(err, confirma.ValidationError)
            assert sorted(err.field_errors) == want["fields"], f"{where}: fields {sorted(err.field_errors)}"
        if "status" in want:
            assert err.status_code == want["status"], f"{where}: status {err.status_code}, want {want['status']}"
        if "retryable" in want:
            assert err.retryable == want["retryable"], f"{where}: retryable {err.retryable}"
        if "retryAfterSeconds" in want:
            retry_after = getattr(err, "retry_after", None)
            assert retry_after is not None and round(retry_after) == want["retryAfterSeconds"], f"{where}: retry_after {retry_after}"
        if "causeKind" in want:
            assert isinstance(err, confirma.OutcomeUnknownError)
            cause = err.__cause__
            assert isinstance(cause, confirma.ConfirmaError), f"{where}: no cause"
            assert cause.kind == want["causeKind"], f"{where}: cause kind {cause.kind!r}"
            assert err.operation in ("create_client", "renew_token")
        if "recoveredToken" in want:
            got = err.recovered_token is not None
            assert got == want["recoveredToken"], f"{where}: recovered_token present={got}"
            if got:
                assert isinstance(err.recovered_token, confirma.SecretToken)
        if "rawResponse" in want:
            got = err.raw_response is not None
            assert got == want["rawResponse"], f"{where}: raw_response present={got}"
            if got:
                assert isinstance(err.raw_response, confirma.SecretToken)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(sandbox: Sandbox, path: Path, mode: str) -> None:
    scenario = json.loads(path.read_text(encoding="utf-8"))
    if scenario.get("sandboxConfig"):
        sandbox.admin("POST", "/_sandbox/config", scenario["sandboxConfig"])
    Runner(sandbox, scenario, mode).run()
