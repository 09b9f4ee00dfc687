#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/seeds/TARGET/ from tests/scenarios/*.json.

The seeds are small (a few KB in all) and committed; libFuzzer's working corpora (fuzz/corpus) are not.
Run it again after adding scenarios: `python3 fuzz/seed.py` (or `fuzz/seed.sh`).
"""
import glob
import hashlib
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEEDS = os.path.join(HERE, "seeds")
PPT = "cfis_ppt_test_token_0123456789"


def substitute(v):
    """Scenario placeholders ($partnerCode, $x.accessToken, ...) become plausible concrete values."""
    if isinstance(v, str):
        if v == "$partnerCode":
            return "QUICK3"
        if v.startswith("$"):
            return PPT
        return v
    if isinstance(v, list):
        return [substitute(x) for x in v]
    if isinstance(v, dict):
        return {k: substitute(x) for k, x in v.items()}
    return v


seeds = {t: set() for t in ["new_client", "error_body", "responses", "retry_after", "sandbox_request"]}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    seeds[target].add(data)


for path in sorted(glob.glob(os.path.join(ROOT, "tests", "scenarios", "*.json"))):
    scenario = json.load(open(path, encoding="utf-8"))
    for step in scenario.get("steps", []):
        if "newClient" in step:
            nc = substitute(step["newClient"])
            text = json.dumps(nc, ensure_ascii=False)
            add("new_client", text)
            add("sandbox_request", f"POST /api/v1/partner/client\nX-Api-Key: $PPT\nContent-Type: application/json\n\n{text}")
        faults = step.get("fault")
        for f in faults if isinstance(faults, list) else [faults] if faults else []:
            if "body" in f:
                add("error_body", f"{f.get('contentType', '')}\n{PPT}\n{f['body']}")
            if "retryAfter" in f:
                add("retry_after", str(f["retryAfter"]))

# Shapes the scenarios describe in prose rather than as bodies.
for body in [
    '{"clientId":"c-1","customerCode":"100001","paymentReferencePrefix":"1000","accessToken":"cfis_at_abc","tokenExpiresAt":"2027-01-01T00:00:00Z"}',
    '{"accessToken":"cfis_at_abc"}',
    '{"accessToken":"cfis_at_new","tokenExpiresAt":"2027-02-27T12:00:00.123","message":"Token renewed"}',
    '{"Message":"cfis_at_new"}',
    '{"result":{"newKey":"cfis_at_new"}}',
    '"cfis_at_new"',
    'cfis_at_new',
    '{"isValid":true,"message":"Token is valid"}',
    '{"isValid":false,"expired":true,"message":"Token has expired"}',
    '{"valid":"false","message":"Unknown token"}',
    '{"accessToken":"x","tokenExpiresAt":"+262142-12-31T23:59:59Z"}',
    '{"accessToken":"x","expires":"9999-12-31"}',
]:
    add("responses", body)
for ct, body in [
    ("application/problem+json", '{"type":"about:blank","title":"Unauthorized","status":401,"detail":"Invalid token cfis_ppt_test_token_0123456789","traceId":"00-1-2-01"}'),
    ("application/json", '{"message":"Token cfis_ppt_test_token_0123456789 is not valid"}'),
    ("application/json", '{"errors":[{"field":"Client.Email","message":"bad"}],"accessToken":"cfis_at_zzz"}'),
    ("text/html", "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"),
    ("text/plain", "Service Unavailable"),
    ("", '"just a string"'),
]:
    add("error_body", f"{ct}\n{PPT}\n{body}")
for v in ["0", "7", "120", "1.5", "-1", "86400", "NaN", "inf", "1e400", "Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 2994 08:49:37 GMT"]:
    add("retry_after", v)
for req in [
    "GET /api/v1/partner/validate\nX-Api-Key: $PPT\n\n",
    "GET /api/v1/partner/validate\nX-Api-Key: $LAST\n\n",
    "GET /api/v1/partner/renew\nX-Api-Key: $LAST\n\n",
    "GET /API/V1/PARTNER/RENEW/\nX-Api-Key: cfis_at_unknown\n\n",
    'POST /_sandbox/clock\nContent-Type: application/json\n\n{"advanceSeconds": 7776000}',
    'POST /_sandbox/config\nContent-Type: application/json\n\n{"validation":"lenient","graceSeconds":60,"tokenTtlSeconds":null}',
    "GET /_sandbox/state\n\n",
    "POST /_sandbox/reset\n\n",
    "DELETE /api/v1/partner/client?x=1\nX-Request-Id: abc\n\n",
]:
    add("sandbox_request", req)

if os.path.isdir(SEEDS):
    shutil.rmtree(SEEDS)
total = 0
for target, items in seeds.items():
    d = os.path.join(SEEDS, target)
    os.makedirs(d)
    for data in sorted(items):
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)
        total += len(data)
    print(f"{target}: {len(items)} seeds")
# new_client_fields takes structured (arbitrary-derived) input: it starts from nothing.
print(f"{total} bytes in all")
