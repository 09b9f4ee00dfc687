#!/usr/bin/env python3
"""A/B of two builds of the Python binding on a shared machine: alternates short runs of the same contestant
(bench/python/contestant.py) from two interpreters / venvs against one sandbox, swapping the order every round,
and prints the median p50 and req/s of each and in how many rounds B beat A. Ratios measured in alternation are
what survives other load on the machine; one run of each does not.

    python3 bench/python/ab.py --a /tmp/venv-old/bin/python --b target/bench/venv/bin/python \\
        [--sandbox target/x86_64-unknown-linux-gnu/release/confirma-sandbox] [--rounds 14] [--concurrency 1] \\
        [--contestant confirma-async] [--seconds 1.5]

With two or more CPUs the sandbox runs on CPU 0 and the contestant on CPU 1 (as bench/harness.py does).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import harness  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="python of build A (a venv with that wheel installed)")
    ap.add_argument("--b", required=True, help="python of build B")
    ap.add_argument("--sandbox", default=str(harness.ROOT / "target/x86_64-unknown-linux-gnu/release/confirma-sandbox"))
    ap.add_argument("--rounds", type=int, default=14)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--contestant", default="confirma-async")
    ap.add_argument("--seconds", type=float, default=1.5)
    a = ap.parse_args()
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    sb = harness.Sandbox(a.sandbox, "0" if pin else None)
    res: dict = {"A": [], "B": []}
    try:
        token = sb.new_token()
        for i in range(a.rounds):
            order = [("A", a.a), ("B", a.b)] if i % 2 == 0 else [("B", a.b), ("A", a.a)]
            for name, py in order:
                spec = {"baseUrl": sb.base_url, "token": token, "provisioningToken": sb.provisioning_token,
                        "partnerCode": sb.partner_code, "workload": "validate", "concurrency": a.concurrency,
                        "warmupSec": 0.3, "durationSec": a.seconds, "idBase": 0}
                cmd = [py, str(HERE / "contestant.py"), a.contestant, json.dumps(spec)]
                if pin:
                    cmd = ["taskset", "-c", "1"] + cmd
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
                if p.returncode != 0 or not lines:
                    print(f"{name} failed: {p.stderr.strip()[-400:]}", file=sys.stderr)
                    return 1
                d = json.loads(lines[-1])
                res[name].append((d["p50_us"], d["rps"]))
    finally:
        sb.stop()
    for name, xs in res.items():
        print(f"{name}: median p50 {statistics.median(x[0] for x in xs):.0f} µs, "
              f"median {statistics.median(x[1] for x in xs):,.0f} req/s; p50s {[x[0] for x in xs]}")
    wins = sum(1 for x, y in zip(res["A"], res["B"]) if y[0] < x[0])
    print(f"rounds where B's p50 < A's: {wins} of {a.rounds}; load {harness.loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
