"""The per-call cost of ``TokenManager.token()`` on the hot path (the token served from memory), blocking and
asyncio, from the installed ``confirma-sdk`` wheel against a CFIS URL (the local sandbox)::

    python bench/python/lifecycle.py <baseUrl> <provisioningToken> <partnerCode> [--calls N] [--rounds R]

(or CONFIRMA_BASE_URL, CONFIRMA_PROVISIONING_TOKEN, CONFIRMA_PARTNER_CODE). One client is created with a
``MemoryStore``; after a warm-up (the first ``token()`` loads and validates), ``token()`` is timed over
``--calls`` calls, ``--rounds`` times, and the best round is reported (the least disturbed by other load).
Prints one line per row::

    python-sync token() hot path: 304 ns/call (200000 calls)
    python-async token() hot path: 387 ns/call (50000 calls)

The asyncio row is ``await manager.token(...)`` in a loop on one event loop (on the hot path the coroutine
returns without a trip round the loop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from typing import Any, Dict, List, Optional

import confirma


def business_id() -> str:
    weights = (7, 9, 10, 5, 8, 4, 2)
    while True:
        digits = str(random.randint(1_000_000, 9_999_999))
        r = sum(int(d) * w for d, w in zip(digits, weights)) % 11
        if r != 1:
            return f"{digits}-{0 if r == 0 else 11 - r}"


def form(partner_code: str) -> Dict[str, Any]:
    bid = business_id()
    return {
        "service": {"type": "LIFECYCLE", "partnerCode": partner_code},
        "client": {
            "name": "Bench Oy",
            "businessCode": bid,
            "vatRegNbr": "FI" + bid.replace("-", ""),
            "postalAddress": "Testikuja 7",
            "postalCode": "00100",
            "postalDistrict": "HELSINKI",
            "countryCode": "FI",
            "email": "bench@example.fi",
            "languageCode": "FI",
        },
        "contacts": [{"role": "PRIMARY", "name": "Bench", "email": "bench@example.fi"}],
    }


def bench_sync(m: confirma.TokenManager, client_id: str, calls: int, rounds: int) -> float:
    token = m.token
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            token(client_id)
        best = min(best, (time.perf_counter_ns() - t0) / calls)
    return best


async def bench_async(m: confirma.AsyncTokenManager, client_id: str, calls: int, rounds: int) -> float:
    token = m.token
    await token(client_id)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            await token(client_id)
        best = min(best, (time.perf_counter_ns() - t0) / calls)
    return best


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("base_url", nargs="?", default=os.environ.get("CONFIRMA_BASE_URL"))
    p.add_argument("provisioning_token", nargs="?", default=os.environ.get("CONFIRMA_PROVISIONING_TOKEN"))
    p.add_argument("partner_code", nargs="?", default=os.environ.get("CONFIRMA_PARTNER_CODE"))
    p.add_argument("--calls", type=int, default=200_000, help="calls per round (sync)")
    p.add_argument("--async-calls", type=int, default=None, help="calls per round (asyncio; default: --calls / 4)")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    if not (args.base_url and args.provisioning_token and args.partner_code):
        p.error("give <baseUrl> <provisioningToken> <partnerCode> (or the CONFIRMA_* variables)")
    async_calls = args.async_calls or max(1, args.calls // 4)
    store = confirma.MemoryStore()
    with confirma.Client(base_url=args.base_url) as client:
        created = client.create_client(args.provisioning_token, form(args.partner_code), store=store)
        with confirma.TokenManager(client, store) as m:
            m.token(created.client_id)  # warm-up: load + validate
            ns = bench_sync(m, created.client_id, args.calls, args.rounds)
        print(f"python-sync token() hot path: {ns:.0f} ns/call ({args.calls} calls)", flush=True)

    async def run_async() -> float:
        async with confirma.AsyncClient(base_url=args.base_url) as aclient:
            async with confirma.AsyncTokenManager(aclient, store) as am:
                return await bench_async(am, created.client_id, async_calls, args.rounds)

    ns = asyncio.run(run_async())
    print(f"python-async token() hot path: {ns:.0f} ns/call ({async_calls} calls)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
