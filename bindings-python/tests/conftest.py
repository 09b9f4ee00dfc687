"""Shared fixtures: one real sandbox process per test session, admin helpers, fresh Finnish business ids."""

from __future__ import annotations

import itertools
import json
import os
import pickle
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

import pytest

import confirma

REPO_ROOT = Path(os.environ.get("CONFIRMA_REPO_ROOT") or Path(__file__).resolve().parents[2])

# Every error kind (the core's `ErrorKind::as_str`) and its public exception class.
KIND_CLASSES = {
    "validation": confirma.ValidationError,
    "authentication": confirma.AuthenticationError,
    "permission_denied": confirma.PermissionDeniedError,
    "conflict": confirma.ConflictError,
    "rate_limited": confirma.RateLimitError,
    "service_unavailable": confirma.ServiceUnavailableError,
    "timeout": confirma.TimeoutError,
    "network": confirma.NetworkError,
    "outcome_unknown": confirma.OutcomeUnknownError,
    "unexpected_response": confirma.UnexpectedResponseError,
    "configuration": confirma.ConfigurationError,
    "internal": confirma.InternalError,
    "storage": confirma.StorageError,
    "credentials_lost": confirma.CredentialsLostError,
}


def sandbox_binary() -> Path:
    env = os.environ.get("CONFIRMA_SANDBOX_BIN")
    if env:
        return Path(env)
    return REPO_ROOT / "target" / "x86_64-unknown-linux-gnu" / "debug" / "confirma-sandbox"


class Sandbox:
    def __init__(self, base_url: str, provisioning_token: str, partner_code: str) -> None:
        self.base_url = base_url
        self.provisioning_token = provisioning_token
        self.partner_code = partner_code

    def admin(self, method: str, path: str, body: Optional[Any] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode() or "null"
        return json.loads(text)

    def reset(self) -> None:
        self.admin("POST", "/_sandbox/reset")

    def fault(self, fault: Any) -> None:
        self.admin("POST", "/_sandbox/faults", fault)

    def clear_faults(self) -> None:
        self.admin("DELETE", "/_sandbox/faults")

    def state(self) -> Dict[str, Any]:
        result: Dict[str, Any] = self.admin("GET", "/_sandbox/state")
        return result


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[Sandbox]:
    binary = sandbox_binary()
    if not binary.exists():
        pytest.fail(f"sandbox binary not found at {binary} (set CONFIRMA_SANDBOX_BIN)")
    proc = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            pytest.fail("the sandbox exited without printing its JSON line")
        info = json.loads(line)
        yield Sandbox(info["baseUrl"], info["provisioningToken"], info["partnerCode"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def sandbox(sandbox_process: Sandbox) -> Sandbox:
    """The session's sandbox, reset before the test."""
    sandbox_process.reset()
    return sandbox_process


def _check_digit(first_seven: str) -> Optional[int]:
    weights = (7, 9, 10, 5, 8, 4, 2)
    r = sum(int(d) * w for d, w in zip(first_seven, weights)) % 11
    if r == 0:
        return 0
    if r == 1:
        return None
    return 11 - r


_counter = itertools.count(2000000 + os.getpid() % 1000 * 1000)


def business_id() -> str:
    """A fresh valid Finnish Business ID (7 digits, hyphen, check digit)."""
    while True:
        seven = f"{next(_counter):07d}"
        digit = _check_digit(seven)
        if digit is not None:
            return f"{seven}-{digit}"


def new_client_dict(partner_code: str, bid: Optional[str] = None, snake: bool = False) -> Dict[str, Any]:
    bid = bid or business_id()
    vat = "FI" + bid.replace("-", "")
    client = {
        "name": "Testiasiakas Oy",
        "businessCode": bid,
        "vatRegNbr": vat,
        "postalAddress": "Testikuja 7",
        "postalCode": "00100",
        "postalDistrict": "HELSINKI",
        "countryCode": "FI",
        "email": "laskutus@testiasiakas.fi",
        "website": "https://www.testiasiakas.fi",
        "languageCode": "FI",
    }
    service = {"type": "LIFECYCLE", "partnerCode": partner_code}
    if snake:
        client = {_snake(k): v for k, v in client.items()}
        service = {_snake(k): v for k, v in service.items()}
    return {
        "service": service,
        "client": client,
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi"}],
    }


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


# ---------------------------------------------------------------------------------------------------------
# Canary: no token in any part of an error

# The sandbox's tokens: access tokens `cfis_at_` + 40 alphanumerics, provisioning tokens `cfis_ppt_` + 32.
TOKEN_SHAPE = re.compile(r"cfis_[a-z]+_[A-Za-z0-9]{16,}")


def _error_texts(err: BaseException) -> Iterator[Tuple[str, str]]:
    """Every text an error exposes: repr, str, args, every attribute (recursively through containers and
    the __cause__ / __context__ / .cause chain), and its pickle. SecretToken values contribute their
    repr/str only (never reveal())."""
    seen: Set[int] = set()
    todo: List[Tuple[str, Any]] = [("err", err)]
    while todo:
        where, obj = todo.pop()
        if id(obj) in seen or obj is None:
            continue
        seen.add(id(obj))
        yield f"repr({where})", repr(obj)
        yield f"str({where})", str(obj)
        if isinstance(obj, (str, bytes, int, float, bool)):
            continue
        if isinstance(obj, dict):
            for k, v in obj.items():
                todo.append((f"{where}[{k!r}]", v))
            continue
        if isinstance(obj, (list, tuple, set, frozenset)):
            for i, v in enumerate(obj):
                todo.append((f"{where}[{i}]", v))
            continue
        if isinstance(obj, BaseException):
            yield f"{where}.args", repr(obj.args)
            todo.append((f"{where}.args", obj.args))
            try:
                yield f"pickle({where})", pickle.dumps(obj).decode("latin-1")
            except Exception as e:  # noqa: BLE001 -- a pickling failure is a test failure below
                yield f"pickle({where})", f"<unpicklable: {type(e).__name__}: {e}>"
        for name in dir(obj):
            if name.startswith("__") and name not in ("__cause__", "__context__", "__notes__", "__dict__"):
                continue
            try:
                value = getattr(obj, name)
            except Exception:  # noqa: BLE001
                continue
            if callable(value) and not isinstance(value, (BaseException, type)):
                continue
            if isinstance(value, type):
                continue
            todo.append((f"{where}.{name}", value))


def assert_no_token_leak(err: BaseException, known: Iterable[str] = ()) -> None:
    """Fails if any text the error exposes contains a token-shaped string or one of the `known` secrets."""
    known = [k for k in known if k]
    for where, text in _error_texts(err):
        assert not text.startswith("<unpicklable"), f"{where}: {text}"
        m = TOKEN_SHAPE.search(text)
        assert m is None, f"a token-shaped string leaked into {where}"
        for secret in known:
            assert secret not in text, f"a known token leaked into {where}"
