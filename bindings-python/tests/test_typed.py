"""A typed test module: checked with ``mypy --strict`` against the installed wheel's stubs, and run by pytest.
It uses the public API the way an application with strict typing would, and runs the example."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import confirma
from conftest import REPO_ROOT, Sandbox, business_id


def build_form(partner_code: str) -> confirma.NewClient:
    bid = business_id()
    return confirma.NewClient(
        service=confirma.Service(type=confirma.ServiceType.COOP, partner_code=partner_code),
        client=confirma.ClientDetails(
            name="Tyypitetty Oy",
            business_code=bid,
            vat_reg_nbr="FI" + bid.replace("-", ""),
            postal_address="Testikuja 7",
            postal_code="00100",
            postal_district="HELSINKI",
            country_code="FI",
            email="info@tyypitetty.fi",
            language_code="SV",
        ),
        contacts=[confirma.Contact(role=confirma.ContactRole.PRIMARY, name="Pia", email="pia@tyypitetty.fi")],
    )


def describe(err: confirma.ConfirmaError) -> str:
    status: Optional[int] = err.status_code
    request_id: Optional[str] = err.request_id
    parts: List[str] = [err.kind, err.code, str(status), str(request_id), str(err.retryable)]
    if isinstance(err, confirma.ValidationError):
        fields: Dict[str, List[str]] = err.field_errors
        parts.append(",".join(sorted(fields)) + "@" + err.source)
    if isinstance(err, (confirma.RateLimitError, confirma.ServiceUnavailableError)):
        retry_after: Optional[float] = err.retry_after
        parts.append(str(retry_after))
    if isinstance(err, confirma.OutcomeUnknownError):
        parts.append(err.operation)
        cause: Optional[confirma.ConfirmaError] = err.cause
        parts.append(cause.kind if cause else "-")
    recovered: Optional[confirma.SecretToken] = err.recovered_token
    raw: Optional[confirma.SecretToken] = err.raw_response
    if recovered is not None or raw is not None:
        parts.append("has-secret")
    if isinstance(err, confirma.InternalError):
        parts.append("internal")
    return " ".join(parts)


def test_typed_sync_flow(sandbox: Sandbox) -> None:
    token: confirma.Token = confirma.SecretToken(sandbox.provisioning_token)
    with confirma.Client("staging", base_url=sandbox.base_url, timeout=5.0, max_retries=1) as client:
        created: confirma.CreatedClient = client.create_client(token, build_form(sandbox.partner_code))
        expires: Optional[dt.datetime] = created.token_expires_at
        assert expires is None or expires.tzinfo is not None
        status: confirma.TokenStatus = client.validate_token(created.access_token)
        assert status.is_valid and not status.expired and isinstance(status.message, str)
        renewed: confirma.RenewedToken = client.renew_token(created.access_token.reveal())
        raw: str = renewed.access_token.reveal()
        assert raw and raw != created.access_token.reveal()
        try:
            client.create_client(token, {"service": {"type": "LIFECYCLE"}})
        except confirma.ConfirmaError as err:
            assert describe(err).startswith("validation CONFIRMA_VALIDATION None None False")


def test_typed_async_flow(sandbox: Sandbox) -> None:
    async def flow() -> bool:
        async with confirma.AsyncClient(base_url=sandbox.base_url) as client:
            created = await client.create_client(sandbox.provisioning_token, build_form(sandbox.partner_code))
            results = await asyncio.gather(*(client.validate_token(created.access_token) for _ in range(10)))
            return all(r.is_valid for r in results)

    assert asyncio.run(flow())


def test_typed_lifecycle(sandbox: Sandbox, tmp_path: Path) -> None:
    store: confirma.SqliteStore = confirma.SqliteStore(tmp_path / "c.db", plaintext=True)
    seen: List[confirma.TokenEvent] = []
    with confirma.Client(base_url=sandbox.base_url) as client:
        created = client.create_client(sandbox.provisioning_token, build_form(sandbox.partner_code), store=store)
        with confirma.TokenManager(client, store, renew_every=dt.timedelta(hours=6), jitter=0.1, owner="typed") as m:
            m.add_listener(seen.append)
            token: confirma.SecretToken = m.token(created.client_id)
            status: confirma.CredentialStatus = m.renew_now(created.client_id)
            version: int = status.token_version
            renewed_at: Optional[dt.datetime] = status.last_renewed_at
            assert token and version == 2 and renewed_at is not None and status.encrypted is False
            statuses: List[confirma.CredentialStatus] = m.statuses()
            assert len(statuses) == 1
            stream: confirma.EventStream = m.events()
            assert stream.get(timeout=0.01) is None

    async def run() -> int:
        async with confirma.AsyncClient(base_url=sandbox.base_url) as aclient:
            async with confirma.AsyncTokenManager(aclient, store) as am:
                t: confirma.SecretToken = await am.token(created.client_id)
                s: confirma.CredentialStatus = await am.status(created.client_id)
                assert t
                return s.token_version

    assert asyncio.run(run()) == 2


def test_example_runs_against_the_sandbox(sandbox: Sandbox) -> None:
    example = REPO_ROOT / "examples" / "python" / "onboard.py"
    for extra in ([], ["--async"]):
        proc = subprocess.run(
            [sys.executable, str(example), sandbox.base_url, sandbox.provisioning_token, sandbox.partner_code, *extra],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "renewed" in proc.stdout
        assert sandbox.provisioning_token not in proc.stdout + proc.stderr
    spec = importlib.util.spec_from_file_location("onboard_example", example)
    assert spec is not None
