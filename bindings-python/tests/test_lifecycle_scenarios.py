"""Runs every token-lifecycle scenario in tests/scenarios/lifecycle/*.json (spec: its README.md) through the
public API, with TokenManager (threads for `parallel`) and with AsyncTokenManager (asyncio.gather)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import confirma
from conftest import KIND_CLASSES, REPO_ROOT, Sandbox, assert_no_token_leak

SCENARIOS = sorted((REPO_ROOT / "tests" / "scenarios" / "lifecycle").glob("*.json"))

SCENARIO_KEYS = {"name", "description", "client", "sandboxConfig", "store", "managers", "steps"}
CLIENT_KEYS = {"validation", "maxRetries", "timeoutMs", "connectTimeoutMs", "totalTimeoutMs"}
STEP_KEYS = {
    "createClient": {"op", "manager", "token", "newClient", "save", "expect"},
    "validateToken": {"op", "token", "expect"},
    "token": {"op", "manager", "clientId", "save", "expect"},
    "renewNow": {"op", "manager", "clientId", "expect"},
    "status": {"op", "manager", "clientId", "expect"},
    "reconcile": {"op", "manager", "expect"},
    "importCredentials": {"op", "manager", "clientId", "token", "expect"},
    "parallel": {"op", "steps"},
    "fault": {"op", "fault"},
    "clearFaults": {"op"},
    "sleep": {"op", "ms"},
    "expectRequests": {"op", "path", "count"},
    "expectSame": {"op", "a", "b", "same"},
    "expectEvents": {"op", "manager", "includes", "excludes"},
}
CALLS = {"createClient", "validateToken", "token", "renewNow", "status", "reconcile", "importCredentials"}
STATUS_KEYS = {
    "state": "state",
    "health": "health",
    "tokenVersion": "token_version",
    "consecutiveFailures": "consecutive_failures",
    "lastError": "last_error",
    "encrypted": "encrypted",
}


def check_keys(where: str, obj: Dict[str, Any], known: Any) -> None:
    unknown = sorted(set(obj) - set(known))
    assert not unknown, f"{where}: unknown scenario keys {unknown} (teach the runner or fix the scenario)"


def test_lifecycle_scenarios_found() -> None:
    assert SCENARIOS, "no scenario files under tests/scenarios/lifecycle"


class Runner:
    def __init__(self, sandbox: Sandbox, scenario: Dict[str, Any], mode: str, tmp: Path) -> None:
        check_keys("scenario", scenario, SCENARIO_KEYS)
        self.sandbox = sandbox
        self.scenario = scenario
        self.mode = mode
        self.saved: Dict[str, str] = {}
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
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        kind = scenario["store"]
        assert kind in ("memory", "sqlite"), kind
        names = scenario.get("managers") or ["a"]
        shared = confirma.MemoryStore(key=key) if kind == "memory" else None
        self.stores: Dict[str, Any] = {}
        self.managers: Dict[str, Any] = {}
        self.events: Dict[str, List[str]] = {}
        cls = confirma.AsyncTokenManager if mode == "async" else confirma.TokenManager
        for name in names:
            store = shared or confirma.SqliteStore(tmp / "credentials.db", key=key)
            assert key not in repr(store)
            self.stores[name] = store
            m = cls(self.client, store, owner=name)
            kinds: List[str] = []
            m.add_listener(lambda e, kinds=kinds: kinds.append(e.kind))
            self.managers[name] = m
            self.events[name] = kinds
        if mode == "async":
            self.loop = asyncio.new_event_loop()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            ref = value[1:]
            if ref == "provisioningToken":
                return self.sandbox.provisioning_token
            if ref == "partnerCode":
                return self.sandbox.partner_code
            if ref in self.saved:
                return self.saved[ref]
            return value
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def run(self) -> None:
        try:
            for i, step in enumerate(self.scenario["steps"]):
                self.step(f"step {i} ({step['op']})", step)
        finally:
            for m in self.managers.values():
                m.close()
            self.client.close()
            if self.mode == "async":
                self.loop.close()

    # -- calls ------------------------------------------------------------------------------------------

    def invoke(self, step: Dict[str, Any]) -> Any:
        """Starts a call: the blocking result, or (async) a coroutine."""
        op = step["op"]
        m = self.managers.get(step.get("manager", ""), None)
        if op == "createClient":
            token, form = self.resolve(step["token"]), self.resolve(step["newClient"])
            if "manager" in step:
                # The manager's own create (TokenManager.create_client: the same core call as
                # client.create_client(..., store=store)), so that its events reach this manager's listeners.
                return self.managers[step["manager"]].create_client(token, form)
            return self.client.create_client(token, form)
        if op == "validateToken":
            return self.client.validate_token(self.resolve(step["token"]))
        assert m is not None, f"{op}: unknown manager {step.get('manager')!r}"
        if op == "token":
            return m.token(self.resolve(step["clientId"]))
        if op == "renewNow":
            return m.renew_now(self.resolve(step["clientId"]))
        if op == "status":
            return m.status(self.resolve(step["clientId"]))
        if op == "reconcile":
            return m.reconcile()
        if op == "importCredentials":
            return m.import_credentials(self.resolve(step["clientId"]), self.resolve(step["token"]))
        raise AssertionError(op)

    def outcome(self, step: Dict[str, Any]) -> Tuple[Any, Optional[BaseException]]:
        try:
            r = self.invoke(step)
            if self.mode == "async":
                r = self.loop.run_until_complete(r)
            return r, None
        except confirma.ConfirmaError as e:
            return None, e

    def outcomes_parallel(self, steps: List[Dict[str, Any]]) -> List[Tuple[Any, Optional[BaseException]]]:
        if self.mode == "async":

            async def all_at_once() -> List[Any]:
                return await asyncio.gather(*(self.invoke(s) for s in steps), return_exceptions=True)

            results = self.loop.run_until_complete(all_at_once())
        else:
            barrier = threading.Barrier(len(steps))

            def one(s: Dict[str, Any]) -> Any:
                barrier.wait(10)
                try:
                    return self.invoke(s)
                except confirma.ConfirmaError as e:
                    return e

            with ThreadPoolExecutor(len(steps)) as pool:
                results = list(pool.map(one, steps))
        out: List[Tuple[Any, Optional[BaseException]]] = []
        for r in results:
            if isinstance(r, confirma.ConfirmaError):
                out.append((None, r))
            elif isinstance(r, BaseException):
                raise r
            else:
                out.append((r, None))
        return out

    # -- steps ------------------------------------------------------------------------------------------

    def step(self, where: str, step: Dict[str, Any]) -> None:
        op = step["op"]
        assert op in STEP_KEYS, f"{where}: unknown op"
        check_keys(where, step, STEP_KEYS[op])
        if op == "fault":
            self.sandbox.fault(step["fault"])
        elif op == "clearFaults":
            self.sandbox.clear_faults()
        elif op == "sleep":
            time.sleep(step["ms"] / 1000.0)
        elif op == "expectRequests":
            got = self.sandbox.state().get("requestsByPath", {}).get(step["path"], 0)
            assert got == step["count"], f"{where}: {got} requests to {step['path']}, want {step['count']}"
        elif op == "expectSame":
            a, b = self.resolve(step["a"]), self.resolve(step["b"])
            assert not a.startswith("$") and not b.startswith("$"), f"{where}: unresolved reference"
            assert (a == b) == step["same"], f"{where}: tokens same={a == b}, want {step['same']}"
        elif op == "expectEvents":
            kinds = self.events[step["manager"]]
            deadline = time.monotonic() + 10
            while not set(step.get("includes", [])) <= set(kinds) and time.monotonic() < deadline:
                time.sleep(0.02)
            missing = set(step.get("includes", [])) - set(kinds)
            assert not missing, f"{where}: events {kinds} lack {sorted(missing)}"
            present = set(step.get("excludes", [])) & set(kinds)
            assert not present, f"{where}: events {kinds} include {sorted(present)}"
        elif op == "parallel":
            subs = step["steps"]
            for j, s in enumerate(subs):
                assert s["op"] in CALLS, f"{where}: {s['op']} cannot run in parallel"
                check_keys(f"{where}.{j}", s, STEP_KEYS[s["op"]])
            for j, (s, (result, err)) in enumerate(zip(subs, self.outcomes_parallel(subs))):
                self.check(f"{where}.{j} ({s['op']})", s, result, err)
        else:
            result, err = self.outcome(step)
            self.check(where, step, result, err)

    def check(self, where: str, step: Dict[str, Any], result: Any, err: Optional[BaseException]) -> None:
        expect = step["expect"]
        check_keys(f"{where} expect", expect, {"ok", "result", "error"})
        assert ("error" in expect) != (expect.get("ok") is True), f"{where}: expect needs exactly one of ok / error"
        if err is not None:
            assert "error" in expect, f"{where}: unexpected {err!r}"
            assert_no_token_leak(err, self.secrets)
            want = expect["error"]
            assert isinstance(err, confirma.ConfirmaError)
            assert err.kind == want["kind"], f"{where}: kind {err.kind!r} ({err}), want {want['kind']!r}"
            assert isinstance(err, KIND_CLASSES[want["kind"]])
            return
        assert "error" not in expect, f"{where}: expected {expect['error']}, got {result!r}"
        for secret in self.secrets:
            assert secret not in repr(result), f"{where}: a token in the result's repr"
        got = self.result_fields(step["op"], result)
        for key, value in (expect.get("result") or {}).items():
            assert key in got, f"{where}: result key {key!r} not known for {step['op']}"
            assert got[key] == value, f"{where}: {key} = {got[key]!r}, want {value!r} (result {result!r})"
        if "save" in step:
            name = step["save"]
            token = result.access_token if step["op"] == "createClient" else result
            assert isinstance(token, confirma.SecretToken)
            self.saved[f"{name}.accessToken"] = token.reveal()
            self.secrets.append(token.reveal())
            if step["op"] == "createClient":
                self.saved[f"{name}.clientId"] = result.client_id

    def result_fields(self, op: str, result: Any) -> Dict[str, Any]:
        if op == "createClient":
            return {"hasExpiry": result.token_expires_at is not None, "clientId": result.client_id}
        if op == "validateToken":
            return {"isValid": result.is_valid, "expired": result.expired, "message": result.message}
        if op == "token":
            return {}
        if op == "reconcile":
            return {"count": len(result), "states": [s.state for s in result]}
        assert isinstance(result, confirma.CredentialStatus)
        fields = {k: getattr(result, attr) for k, attr in STATUS_KEYS.items()}
        fields["hasExpiry"] = result.expires_at is not None
        return fields


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_lifecycle_scenario(sandbox: Sandbox, path: Path, mode: str, tmp_path: Path) -> None:
    scenario = json.loads(path.read_text(encoding="utf-8"))
    if scenario.get("sandboxConfig"):
        sandbox.admin("POST", "/_sandbox/config", scenario["sandboxConfig"])
    Runner(sandbox, scenario, mode, tmp_path).run()
