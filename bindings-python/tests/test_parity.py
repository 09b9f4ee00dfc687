"""The Python runner of the cross-language parity test (``tests/parity/README.md``).

Through the public API: every error of ``confirma::ffi::samples::errors()`` as the public exception the
binding raises (``_native._sample_errors()``), and every configuration case of ``tests/parity/configs.json``
built with ``confirma.Client(...)`` (its effective configuration read back with the private
``_describe_config()``, or the error it raised). Writes ``target/parity/python.json`` for
``tests/parity/compare.py`` and checks the basics itself."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

import confirma
from confirma import _native
from conftest import KIND_CLASSES, REPO_ROOT

CASES = REPO_ROOT / "tests" / "parity" / "configs.json"
OUT = REPO_ROOT / "target" / "parity" / "python.json"

# configs.json option name → confirma.Client keyword (durations are in seconds there and here).
OPTIONS = {
    "environment": "environment",
    "baseUrl": "base_url",
    "timeout": "timeout",
    "connectTimeout": "connect_timeout",
    "totalTimeout": "total_timeout",
    "maxRetries": "max_retries",
    "maxResponseBytes": "max_response_bytes",
    "validation": "validation",
    "userAgentSuffix": "user_agent_suffix",
    "proxy": "proxy",
    "rootCertificatesPem": "root_certificates_pem",
}
SPECIAL_NUMBERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
NUMERIC = {"timeout", "connectTimeout", "totalTimeout", "maxRetries", "maxResponseBytes"}

# The kinds every sample set must cover, and the public class of each.
CLASSES = KIND_CLASSES


def reveal(secret: Optional[confirma.SecretToken]) -> Optional[str]:
    return None if secret is None else secret.reveal()


def dump_error(e: confirma.ConfirmaError) -> Dict[str, Any]:
    """The README's ErrorDump, read from the public exception object."""
    retry_after: Optional[float] = getattr(e, "retry_after", None)
    cause = e.__cause__
    return {
        "kind": e.kind,
        "code": e.code,
        "message": e.message,
        "display": str(e),
        "status": e.status_code,
        "requestId": e.request_id,
        "retryable": e.retryable,
        "retryAfterMs": None if retry_after is None else round(retry_after * 1000),
        "fieldErrors": getattr(e, "field_errors", {}),
        "issues": [
            {"field": i.field, "code": i.code, "params": dict(i.params), "message": i.message, "userMessage": i.user_message}
            for i in getattr(e, "issues", [])
        ],
        "source": getattr(e, "source", None),
        "operation": getattr(e, "operation", None),
        "connect": getattr(e, "connect", None),
        "bodyExcerpt": getattr(e, "body_excerpt", None),
        "recoveredToken": reveal(e.recovered_token),
        "rawResponse": reveal(e.raw_response),
        "cause": dump_error(cause) if isinstance(cause, confirma.ConfirmaError) else None,
    }


def option_value(key: str, value: Any) -> Any:
    if key in NUMERIC and isinstance(value, str):
        return SPECIAL_NUMBERS[value]
    return value


def build(options: Dict[str, Any]) -> Dict[str, Any]:
    """The README's ConfigOutcome for one case, through the public constructor."""
    kwargs = {OPTIONS[k]: option_value(k, v) for k, v in options.items()}
    try:
        client = confirma.Client(**kwargs)
    except confirma.ConfirmaError as e:
        return {"ok": False, "code": e.code, "kind": e.kind, "message": e.message}
    try:
        config: Dict[str, Any] = json.loads(client._native._describe_config())
    finally:
        client.close()
    return {"ok": True, "config": config}


def test_parity_runner_writes_python_json() -> None:
    cases: List[Dict[str, Any]] = json.loads(CASES.read_text())["cases"]
    errors: Dict[str, Any] = {}
    samples = _native._sample_errors()
    for name, err in samples:
        assert isinstance(err, confirma.ConfirmaError), f"{name}: {err!r}"
        assert type(err) is CLASSES[err.kind], f"{name}: {type(err).__name__} for kind {err.kind}"
        errors[name] = dump_error(err)
    configs: Dict[str, Any] = {}
    for case in cases:
        skip = case.get("skip", {}).get("python")
        configs[case["name"]] = {"skipped": skip} if skip else build(case["options"])

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"language": "python", "errors": errors, "configs": configs}, indent=2) + "\n")

    # Every sample and every case is there, every kind is covered.
    assert len(errors) == len(samples) and len(samples) >= len(CLASSES)
    assert {e["kind"] for e in errors.values()} == set(CLASSES)
    assert set(configs) == {c["name"] for c in cases}
    # The fields that used to be missing or wrong in Python.
    assert errors["network_connect"]["connect"] is True and errors["network_broken"]["connect"] is False
    assert errors["internal_panic"]["kind"] == "internal" and errors["internal_panic"]["retryable"] is False
    assert errors["outcome_unknown_renew"]["cause"]["status"] == 502
    assert errors["outcome_unknown_recovered"]["recoveredToken"].startswith("tok_recovered_")
    assert errors["rate_limited"]["retryAfterMs"] == 2500
    # Configurations: the core's defaults, its spellings, its User-Agent.
    defaults = configs["defaults"]["config"]
    assert defaults["environment"] == "staging" and defaults["maxRetries"] == 2 and defaults["timeoutMs"] == 30000
    version = "{}.{}.{}".format(*sys.version_info[:3])
    assert defaults["userAgentSuffix"] == f"python/{version} confirma-python/{confirma.__version__}"
    assert configs["environment_prod_short"]["config"]["environment"] == "production"
    for name in ("environment_unknown", "max_retries_eleven", "timeout_nan", "max_response_bytes_below_min"):
        assert configs[name]["ok"] is False and configs[name]["kind"] == "configuration", name
    assert "max_retries" in configs["max_retries_eleven"]["message"]


@pytest.mark.parametrize("kwargs", [{"max_retries": 10**400}, {"timeout": 10**400}, {"max_response_bytes": -(10**400)}])
def test_ints_beyond_float_are_configuration_errors(kwargs: Dict[str, Any]) -> None:
    with pytest.raises(confirma.ConfigurationError) as info:
        confirma.Client(base_url="http://127.0.0.1:9", **kwargs)
    assert next(iter(kwargs)) in info.value.message


def test_samples_keep_their_secrets_out_of_repr_and_pickles() -> None:
    import pickle

    for name, err in _native._sample_errors():
        assert "tok_" not in repr(err) and "tok_" not in str(err), name
        assert b"tok_" not in pickle.dumps(err), name


def test_network_errors_say_whether_they_failed_while_connecting() -> None:
    # Nothing listens on port 1: the connection is refused, nothing was sent.
    with confirma.Client(base_url="http://127.0.0.1:1", max_retries=0) as client:
        with pytest.raises(confirma.NetworkError) as info:
            client.validate_token("tok12345")
    assert info.value.connect is True
    assert dump_error(info.value)["connect"] is True


def test_core_spellings_and_defaults_through_the_public_constructor() -> None:
    assert confirma.Client("prod").base_url == confirma.Client("production").base_url
    assert confirma.Client(" Production ").base_url == "https://integrations.confirmafinance.com/"
    assert confirma.AsyncClient(validation="LENIENT").validation == "lenient"
    assert confirma.Client().validation == "strict"
    # None is the core's default, for every option.
    explicit = confirma.Client(timeout=None, max_retries=None, max_response_bytes=None, validation=None)
    assert explicit._native._describe_config() == confirma.Client()._native._describe_config()
