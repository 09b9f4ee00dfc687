"""Python contestants of the benchmark harness (bench/harness.py).

    python contestant.py <name> '<spec json>'    -> one JSON line on stdout

Names: confirma-async (AsyncClient), confirma-sync (Client from a thread pool), aiohttp, httpx. The peers send
the same requests as the SDK (X-Api-Key, Accept: application/json; JSON body for create) and parse the JSON body.
"""
from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

T_START = time.perf_counter()
WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


class Ids:
    def __init__(self, base: int) -> None:
        self.n = base
        self.lock = threading.Lock()

    def business_code(self) -> str:
        while True:
            with self.lock:
                n = self.n % 10_000_000
                self.n += 1
            digits = f"{n:07d}"
            r = sum(int(d) * w for d, w in zip(digits, WEIGHTS)) % 11
            if r != 1:
                return f"{digits}-{0 if r == 0 else 11 - r}"


def new_client(partner: str, code: str) -> dict:
    return {
        "service": {"type": "LIFECYCLE", "partnerCode": partner},
        "client": {
            "name": "Testiasiakas Oy", "businessCode": code, "vatRegNbr": "FI" + code.replace("-", ""),
            "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
            "countryCode": "FI", "email": "laskutus@testiasiakas.fi", "languageCode": "FI",
        },
        "contacts": [{"role": "PRIMARY", "name": "Maija Meikäläinen", "email": "maija@testiasiakas.fi"}],
    }


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def summarize(lats: list, errors: int, first_error, seconds: float) -> dict:
    lats.sort()
    pct = lambda p: lats[round((len(lats) - 1) * p)] if lats else 0  # noqa: E731
    return {"ops": len(lats), "seconds": seconds, "rps": len(lats) / seconds, "p50_us": pct(0.5),
            "p99_us": pct(0.99), "errors": errors, "first_error": first_error}


# ---------------------------------------------------------------- async contestants: (setup) -> ops object
class AsyncOps:
    """validate(token) and flow() for one async contestant."""

    def __init__(self, name: str, spec: dict) -> None:
        self.name, self.spec = name, spec
        self.ids = Ids(spec.get("idBase", 0))
        base = spec["baseUrl"].rstrip("/")
        self.validate_url = base + "/api/v1/partner/validate"
        self.renew_url = base + "/api/v1/partner/renew"
        self.create_url = base + "/api/v1/partner/client"

    async def open(self) -> None:
        conc = self.spec.get("concurrency", 1)
        if self.name == "confirma-async":
            import confirma
            self.c = confirma.AsyncClient(base_url=self.spec["baseUrl"])
        elif self.name == "aiohttp":
            import aiohttp
            self.c = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(conc, 100)))
        elif self.name == "httpx":
            import httpx
            self.c = httpx.AsyncClient(limits=httpx.Limits(max_connections=max(conc, 100),
                                                           max_keepalive_connections=max(conc, 100)))
        else:
            raise SystemExit(f"unknown contestant {self.name}")

    async def close(self) -> None:
        if self.name == "confirma-async":
            await self.c.aclose()
        elif self.name == "aiohttp":
            await self.c.close()
        else:
            await self.c.aclose()

    async def _get(self, url: str, token: str) -> dict:
        h = {"X-Api-Key": token, "Accept": "application/json"}
        if self.name == "aiohttp":
            async with self.c.get(url, headers=h) as r:
                body = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status}")
                return body
        r = await self.c.get(url, headers=h)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        return r.json()

    async def _post(self, url: str, token: str, payload: dict) -> dict:
        h = {"X-Api-Key": token, "Accept": "application/json"}
        if self.name == "aiohttp":
            async with self.c.post(url, headers=h, json=payload) as r:
                body = await r.json()
                if r.status not in (200, 201):
                    raise RuntimeError(f"HTTP {r.status}: {body}")
                return body
        r = await self.c.post(url, headers=h, json=payload)
        if r.status_code not in (200, 201):
            raise RuntimeError(f"HTTP {r.status_code}")
        return r.json()

    async def validate(self, token) -> None:
        if self.name == "confirma-async":
            ok = (await self.c.validate_token(token)).is_valid
        else:
            ok = (await self._get(self.validate_url, token))["isValid"]
        if not ok:
            raise RuntimeError("token not valid")

    async def flow(self) -> None:
        payload = new_client(self.spec["partnerCode"], self.ids.business_code())
        prov = self.spec["provisioningToken"]
        if self.name == "confirma-async":
            created = await self.c.create_client(prov, payload)
            await self.validate(created.access_token)
            renewed = await self.c.renew_token(created.access_token)
            await self.validate(renewed.access_token)
        else:
            created = await self._post(self.create_url, prov, payload)
            await self.validate(created["accessToken"])
            renewed = await self._get(self.renew_url, created["accessToken"])
            await self.validate(renewed["accessToken"])


async def run_async(name: str, spec: dict) -> dict:
    t_import = time.perf_counter()
    ops = AsyncOps(name, spec)
    await ops.open()
    t_client = time.perf_counter()
    wl = spec["workload"]
    token = spec["token"]
    try:
        if wl == "first_call":
            t1 = time.perf_counter()
            err = None
            try:
                await ops.validate(token)
            except Exception as e:  # noqa: BLE001
                err = repr(e)
            t2 = time.perf_counter()
            return {"new_client_ms": (t_client - t_import) * 1e3, "first_call_ms": (t2 - t1) * 1e3,
                    "process_to_first_result_ms": (t2 - T_START) * 1e3, "error": err}
        conc = spec.get("concurrency", 1)
        if wl == "rss":
            async def count(n: int) -> int:
                left = [n]
                errors = [0]

                async def worker() -> None:
                    while left[0] > 0:
                        left[0] -= 1
                        try:
                            await ops.validate(token)
                        except Exception:  # noqa: BLE001
                            errors[0] += 1
                await asyncio.gather(*(worker() for _ in range(conc)))
                return errors[0]
            e1 = await count(max(spec["calls"] // 10, 1000))
            gc.collect()
            before = rss_kb()
            e2 = await count(spec["calls"])
            gc.collect()
            after = rss_kb()
            return {"calls": spec["calls"], "rss_before_kb": before, "rss_after_kb": after,
                    "rss_growth_kb": after - before, "errors": e1 + e2}
        is_flow = wl == "flow"
        loop = asyncio.get_running_loop()
        start = loop.time()
        measure_from = start + spec.get("warmupSec", 0)
        end = measure_from + spec.get("durationSec", 1)
        lats: list = []
        errs = [0, None]
        perf = time.perf_counter

        async def worker() -> None:
            while True:
                t0 = perf()
                now = loop.time()
                if now >= end:
                    return
                try:
                    if is_flow:
                        await ops.flow()
                    else:
                        await ops.validate(token)
                except Exception as e:  # noqa: BLE001
                    errs[0] += 1
                    if errs[1] is None:
                        errs[1] = repr(e)
                    await asyncio.sleep(0.01)
                    continue
                if now >= measure_from:
                    lats.append(int((perf() - t0) * 1e6))
        await asyncio.gather(*(worker() for _ in range(conc)))
        return summarize(lats, errs[0], errs[1], max(loop.time(), end) - measure_from)
    finally:
        await ops.close()


# ---------------------------------------------------------------- sync Client from a thread pool
def run_sync(spec: dict) -> dict:
    import confirma
    t0 = time.perf_counter()
    c = confirma.Client(base_url=spec["baseUrl"])
    t_client = time.perf_counter()
    wl = spec["workload"]
    token = spec["token"]
    conc = spec.get("concurrency", 1)
    ids = Ids(spec.get("idBase", 0))

    def validate(tok) -> None:
        if not c.validate_token(tok).is_valid:
            raise RuntimeError("token not valid")

    def flow() -> None:
        created = c.create_client(spec["provisioningToken"], new_client(spec["partnerCode"], ids.business_code()))
        validate(created.access_token)
        renewed = c.renew_token(created.access_token)
        validate(renewed.access_token)

    if wl == "first_call":
        t1 = time.perf_counter()
        validate(token)
        t2 = time.perf_counter()
        return {"new_client_ms": (t_client - t0) * 1e3, "first_call_ms": (t2 - t1) * 1e3,
                "process_to_first_result_ms": (t2 - T_START) * 1e3}
    if wl == "rss":
        def count(n: int) -> int:
            left = [n]
            lock = threading.Lock()

            def worker() -> int:
                errors = 0
                while True:
                    with lock:
                        if left[0] <= 0:
                            return errors
                        left[0] -= 1
                    try:
                        validate(token)
                    except Exception:  # noqa: BLE001
                        errors += 1
            with ThreadPoolExecutor(conc) as ex:
                return sum(ex.map(lambda _: worker(), range(conc)))
        e1 = count(max(spec["calls"] // 10, 1000))
        gc.collect()
        before = rss_kb()
        e2 = count(spec["calls"])
        gc.collect()
        after = rss_kb()
        return {"calls": spec["calls"], "rss_before_kb": before, "rss_after_kb": after,
                "rss_growth_kb": after - before, "errors": e1 + e2}
    is_flow = wl == "flow"
    perf = time.perf_counter
    start = perf()
    measure_from = start + spec.get("warmupSec", 0)
    end = measure_from + spec.get("durationSec", 1)

    def worker(_: int):
        lats, errors, first = [], 0, None
        while True:
            t0 = perf()
            if t0 >= end:
                return lats, errors, first
            try:
                flow() if is_flow else validate(token)
            except Exception as e:  # noqa: BLE001
                errors += 1
                first = first or repr(e)
                time.sleep(0.01)
                continue
            if t0 >= measure_from:
                lats.append(int((perf() - t0) * 1e6))

    all_lats, errors, first = [], 0, None
    with ThreadPoolExecutor(conc) as ex:
        for lats, e, f in ex.map(worker, range(conc)):
            all_lats.extend(lats)
            errors += e
            first = first or f
    out = summarize(all_lats, errors, first, max(perf(), end) - measure_from)
    c.close()
    return out


def main() -> None:
    name, spec = sys.argv[1], json.loads(sys.argv[2])
    if name == "import":
        # Import time of the SDK in a fresh interpreter (the harness runs this several times).
        t0 = time.perf_counter()
        import confirma  # noqa: F401
        print(json.dumps({"import_ms": (time.perf_counter() - t0) * 1e3}))
        return
    if name == "confirma-sync":
        out = run_sync(spec)
    else:
        out = asyncio.run(run_async(name, spec))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
