"""A small HTTP service that keeps a CFIS client's access token alive with ``confirma.TokenManager``.

At start-up it opens the credential store, onboards a client if it has none (``create_client(...,
store=store)``: the credentials are committed before it returns), reconciles interrupted renewals and
validates the token (the manager's first ``token()``). Then every request is served with
``manager.token(client_id)`` — from memory, no I/O — renewing when due (the first call then renews), under a lease
shared by every instance on the same store. Runs against any CFIS URL, e.g. the local sandbox::

    confirma-sandbox --host 127.0.0.1 --port 0      # prints {"baseUrl", "provisioningToken", "partnerCode"}
    export CONFIRMA_STORE_KEY=$(openssl rand -base64 32)
    python token_service.py <baseUrl> <provisioningToken> <partnerCode> [--db credentials.db] [--port 8080]

    curl localhost:8080/status      # the credential's status (never the token)
    curl localhost:8080/check       # uses the token: validates it against CFIS

(or set CONFIRMA_BASE_URL, CONFIRMA_PROVISIONING_TOKEN, CONFIRMA_PARTNER_CODE). ``--self-test`` starts the
service, sends it requests while forcing a rotation in between, and exits (what the SDK's tests run).
Standard library only, besides confirma.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import random
import secrets
import sys
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

import confirma

log = logging.getLogger("token_service")


def random_business_id() -> str:
    """A fresh, valid Finnish Business ID, so the demo can run repeatedly against one sandbox."""
    weights = (7, 9, 10, 5, 8, 4, 2)
    while True:
        digits = str(random.randint(1_000_000, 9_999_999))
        r = sum(int(d) * w for d, w in zip(digits, weights)) % 11
        if r != 1:
            return f"{digits}-{0 if r == 0 else 11 - r}"


def onboarding_form(partner_code: str) -> confirma.NewClient:
    bid = random_business_id()
    return confirma.NewClient(
        service=confirma.Service(type="LIFECYCLE", partner_code=partner_code),
        client=confirma.ClientDetails(
            name="Esimerkki Oy",
            business_code=bid,
            vat_reg_nbr="FI" + bid.replace("-", ""),
            postal_address="Esimerkkikatu 1",
            postal_code="00100",
            postal_district="HELSINKI",
            country_code="FI",
            email="laskutus@esimerkki.fi",
            language_code="FI",
        ),
        contacts=[confirma.Contact(role="PRIMARY", name="Maija Meikäläinen", email="maija@esimerkki.fi")],
    )


def status_json(s: confirma.CredentialStatus) -> Dict[str, Any]:
    return {
        "clientId": s.client_id,
        "state": s.state,
        "health": s.health,
        "tokenVersion": s.token_version,
        "fingerprint": s.fingerprint,
        "expiresAt": s.expires_at.isoformat() if s.expires_at else None,
        "nextRenewAt": s.next_renew_at.isoformat() if s.next_renew_at else None,
        "encrypted": s.encrypted,
    }


class Service:
    def __init__(self, client: confirma.Client, manager: confirma.TokenManager, client_id: str) -> None:
        self.client = client
        self.manager = manager
        self.client_id = client_id

    def handle(self, path: str) -> Dict[str, Any]:
        if path == "/status":
            return status_json(self.manager.status(self.client_id))
        if path == "/check":
            # The hot path: the token from memory (when due, this call renews first).
            token = self.manager.token(self.client_id)
            result = self.client.validate_token(token)
            return {"valid": result.is_valid, "tokenVersion": self.manager.status(self.client_id).token_version}
        raise KeyError(path)


def make_handler(service: Service) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 -- http.server's name
            try:
                body, code = service.handle(self.path), 200
            except KeyError:
                body, code = {"error": "not found"}, 404
            except confirma.CredentialsLostError as e:
                body, code = {"error": e.code, "message": str(e)}, 503
            except confirma.ConfirmaError as e:
                body, code = {"error": e.code, "retryable": e.retryable}, 502
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- http.server's signature
            log.debug(format, *args)

    return Handler


def get(url: str) -> Dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        result: Dict[str, Any] = json.loads(resp.read())
        return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url", nargs="?", default=os.environ.get("CONFIRMA_BASE_URL"))
    parser.add_argument("provisioning_token", nargs="?", default=os.environ.get("CONFIRMA_PROVISIONING_TOKEN"))
    parser.add_argument("partner_code", nargs="?", default=os.environ.get("CONFIRMA_PARTNER_CODE"))
    parser.add_argument("--db", help="the SQLite credential store (default: a temporary file)")
    parser.add_argument("--client-id", help="a client already in the store (default: onboard a new one)")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default: any free one)")
    parser.add_argument("--self-test", action="store_true", help="serve a few requests with a rotation, then exit")
    args = parser.parse_args(argv)
    if not (args.base_url and args.provisioning_token and args.partner_code):
        parser.error("give <baseUrl> <provisioningToken> <partnerCode> (or the CONFIRMA_* variables)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    db = args.db or os.path.join(tempfile.mkdtemp(prefix="confirma-"), "credentials.db")
    key = os.environ.get("CONFIRMA_STORE_KEY")
    if not key:
        # Demo only: a real service sets CONFIRMA_STORE_KEY (openssl rand -base64 32) and keeps it.
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        log.warning("CONFIRMA_STORE_KEY is not set: using a throwaway key (tokens in %s are unreadable after exit)", db)
    store = confirma.SqliteStore(db, key=key)

    with confirma.Client(base_url=args.base_url) as client, confirma.TokenManager(client, store) as manager:
        manager.on("rotated", lambda e: log.info("token rotated: %s v%d %s", e.client_id, e.token_version, e.fingerprint))
        manager.on("renew_failed", lambda e: log.warning("renewal failed (token still served): %s", e.detail))
        manager.on("lost", lambda e: log.error("credentials LOST for %s: %s", e.client_id, e.detail))

        # Start-up: finish interrupted renewals, onboard if needed, validate the token.
        for s in manager.reconcile():
            log.info("reconciled %s: %s", s.client_id, s.state)
        client_id = args.client_id
        if not client_id:
            created = client.create_client(args.provisioning_token, onboarding_form(args.partner_code), store=store)
            client_id = created.client_id
            log.info("onboarded client %s (customer %s)", client_id, created.customer_code)
        manager.token(client_id)  # loads, reconciles and validates: fails loudly at start-up, not at the first request
        log.info("start-up check passed: %s", status_json(manager.status(client_id)))

        service = Service(client, manager, client_id)
        server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(service))
        url = f"http://127.0.0.1:{server.server_address[1]}"
        log.info("serving on %s (GET /status, GET /check)", url)
        if not args.self_test:
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
            return 0

        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            first = [get(url + "/check") for _ in range(5)]
            manager.renew_now(client_id)  # what token() does when the token is due
            second = [get(url + "/check") for _ in range(5)]
            status = get(url + "/status")
        finally:
            server.shutdown()
            server.server_close()
        ok = all(r["valid"] for r in first + second) and status["tokenVersion"] == 2
        print(f"served {len(first) + len(second)} requests; rotated to token version {status['tokenVersion']}; all valid: {ok}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
