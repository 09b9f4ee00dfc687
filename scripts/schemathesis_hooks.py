"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS): the X-Api-Key of
every case, from environment variables (never from the command line). Create gets the sandbox's Partner
Provisioning Token.

A renew replaces the token it was given, so with one static token only the first renew could succeed and
every later one would only exercise the 401 answer. Every renew case gets the access token of a client
created just for it instead, so the 200 answer (and its schema) is exercised on every case.
Validate always gets the one client token made by the script, which is never renewed. (Schemathesis drops
hook-based auth when a config file defines any `[auth]`, so the script uses none.)
"""

import itertools
import json
import os
import threading
import urllib.request

import schemathesis

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)
_seq = itertools.count(1_000_000)
_lock = threading.Lock()


def _business_id() -> str:
    """The next valid Finnish Business ID (NNNNNNN-C) of a sequence the generated data practically never hits."""
    while True:
        with _lock:
            n = next(_seq)
        digits = f"{n:07d}"
        r = sum(int(d) * w for d, w in zip(digits, _WEIGHTS)) % 11
        if r != 1:
            return f"{digits}-{0 if r == 0 else 11 - r}"


def _new_client_token(base_url: str) -> str:
    bid = _business_id()
    body = {
        "service": {"type": "LIFECYCLE", "partnerCode": os.environ["ST_PARTNER_CODE"]},
        "client": {"name": f"Renew {bid} Oy", "businessCode": bid, "vatRegNbr": "FI" + bid.replace("-", ""),
                   "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                   "countryCode": "FI", "email": "renew@example.fi", "languageCode": "FI"},
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@example.fi"}],
    }
    req = urllib.request.Request(
        base_url + "/api/v1/partner/client", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Api-Key": os.environ["ST_PROVISIONING_TOKEN"]},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.load(resp)["accessToken"])


@schemathesis.auth(refresh_interval=None, retry_on=[])
class ApiKey:
    def get(self, case, context):  # type: ignore[no-untyped-def]
        if case.operation.path == "/api/v1/partner/renew":
            return _new_client_token(os.environ["ST_BASE_URL"])
        if case.operation.path == "/api/v1/partner/validate":
            return os.environ["ST_CLIENT_TOKEN"]
        return os.environ["ST_PROVISIONING_TOKEN"]

    def set(self, case, data, context):  # type: ignore[no-untyped-def]
        case.headers = case.headers or {}
        case.headers["X-Api-Key"] = data
