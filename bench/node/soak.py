#!/usr/bin/env python3
"""Node memory soak (issue 13, item 6): does the Node binding leak, or does RSS level off like undici's?

Runs `validate_token` N times (default 2 000 000) at concurrency 64 in `node-confirma` and `node-undici`, one after
the other against one release sandbox (sandbox pinned to CPU 0, contestant to the other CPUs, as in the harness),
and samples memory every `--every` calls (default 100 000) after a full GC (`node --expose-gc`):
`process.memoryUsage()` heapUsed / heapTotal / external / arrayBuffers and VmRSS from /proc/self/status.
Prints one table per contestant and the growth over the first 200k calls and over the whole run, and writes
`bench/results/soak-<time>.json`.

    ./bench/run                        # once: builds the release artifacts (target/bench/manifest-release.json)
    python3 bench/node/soak.py         # then: the soak, ~4-6 min on 2 CPUs
    python3 bench/node/soak.py --calls 400000 --every 50000 --only confirma
    python3 bench/node/soak.py --heaptrack 200000   # also: heaptrack of a 200k-call run of each (apt heaptrack)

Standard library only; reuses bench/harness.py's sandbox starter.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
import harness  # noqa: E402


def run(cmd: list[str], cwd: str, timeout: float) -> dict:
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-600:]}"}
    return json.loads(lines[-1])


def table(name: str, r: dict) -> str:
    if "samples" not in r:
        return f"{name}: ERROR {r.get('error')}"
    s = r["samples"]
    out = [f"{name} ({r['calls']:,} calls at concurrency 64, errors {r['errors']}):",
           "| calls | s | RSS MB | heapUsed MB | heapTotal MB | external MB | arrayBuffers MB |",
           "|---|---|---|---|---|---|---|"]
    for x in s:
        out.append(f"| {x['calls']:,} | {x['seconds']:.1f} | {x['rss_kb'] / 1024:.1f} | {x['heap_used_kb'] / 1024:.1f} | "
                   f"{x['heap_total_kb'] / 1024:.1f} | {x['external_kb'] / 1024:.1f} | {x['array_buffers_kb'] / 1024:.2f} |")
    first = s[0]["rss_kb"]
    at200 = next((x for x in s if x["calls"] >= 200_000), s[-1])
    second_half = s[len(s) // 2]
    out.append(f"RSS growth: first {at200['calls']:,} calls {(at200['rss_kb'] - first) / 1024:+.2f} MB; "
               f"whole run {(s[-1]['rss_kb'] - first) / 1024:+.2f} MB; "
               f"second half ({second_half['calls']:,} → {s[-1]['calls']:,}) {(s[-1]['rss_kb'] - second_half['rss_kb']) / 1024:+.2f} MB")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", default=str(ROOT / "target" / "bench" / "manifest-release.json"))
    ap.add_argument("--calls", type=int, default=2_000_000)
    ap.add_argument("--every", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--only", default="confirma,undici", help="contestants: confirma, undici (comma-separated)")
    ap.add_argument("--heaptrack", type=int, default=0, metavar="CALLS",
                    help="also run each contestant under heaptrack for CALLS calls and print its summary")
    ap.add_argument("--no-pin", dest="pin", action="store_false")
    a = ap.parse_args()
    m = json.loads(Path(a.manifest).read_text())
    if not m.get("node_dir"):
        print(f"no Node scratch project in {a.manifest}: run ./bench/run first", file=sys.stderr)
        return 1
    ncpu = os.cpu_count() or 1
    pin = a.pin and ncpu >= 2 and shutil.which("taskset") is not None
    client = ["taskset", "-c", ",".join(str(c) for c in range(1, ncpu))] if pin else []
    names = [n for n in a.only.split(",") if n]
    contestant = str(BENCH / "node" / "contestant.mjs")
    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "calls": a.calls, "every": a.every,
                     "concurrency": a.concurrency, "pinned": pin, "load_before": harness.loadavg(), "soak": {},
                     "heaptrack": {}}
    sb = harness.Sandbox(m["sandbox"], "0" if pin else None)
    try:
        token = sb.new_token()
        base = {"baseUrl": sb.base_url, "token": token, "provisioningToken": sb.provisioning_token,
                "partnerCode": sb.partner_code, "concurrency": a.concurrency}
        for name in names:
            spec = dict(base, workload="soak", calls=a.calls, sampleEvery=a.every)
            harness.log(f"soak {name}: {a.calls:,} calls, sampled every {a.every:,} (load {harness.loadavg()})")
            r = run([*client, "node", "--expose-gc", contestant, name, json.dumps(spec)], m["node_dir"], 3600)
            results["soak"][name] = r
            print(table(f"node-{name}", r), flush=True)
        if a.heaptrack:
            if not shutil.which("heaptrack"):
                print("heaptrack not installed (apt-get install heaptrack)", file=sys.stderr)
            for name in names:
                spec = dict(base, workload="soak", calls=a.heaptrack, sampleEvery=a.heaptrack)
                out = ROOT / "target" / "bench" / f"heaptrack-{name}"
                harness.log(f"heaptrack {name}: {a.heaptrack:,} calls")
                p = subprocess.run([*client, "heaptrack", "-o", str(out), "node", "--expose-gc", contestant, name,
                                    json.dumps(spec)], cwd=m["node_dir"], capture_output=True, text=True, timeout=3600)
                files = sorted(out.parent.glob(out.name + "*.zst")) or sorted(out.parent.glob(out.name + "*.gz"))
                if p.returncode != 0 or not files:
                    results["heaptrack"][name] = {"error": p.stderr[-600:]}
                    continue
                summary = subprocess.run(["heaptrack_print", "-f", str(files[-1]), "-l", "-p", "0", "-a", "0",
                                          "-T", "0", "-n", "0", "-s", "0"], capture_output=True, text=True).stdout
                # (not the "Debuggee command was" line: it repeats the spec, tokens included)
                lines = [ln for ln in summary.splitlines()
                         if ln.strip() and not ln.startswith(("reading", "Debuggee", "finished reading"))]
                results["heaptrack"][name] = {"file": str(files[-1]), "summary": lines[-12:]}
                print(f"heaptrack node-{name} ({a.heaptrack:,} calls; {files[-1]}):")
                print("\n".join("  " + ln for ln in lines[-12:]), flush=True)
    finally:
        sb.stop()
    results["load_after"] = harness.loadavg()
    out = BENCH / "results" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    harness.log(f"load before {results['load_before']}, after {results['load_after']}; written to {out.relative_to(ROOT)}")
    bad = [n for n, r in results["soak"].items() if "samples" not in r or r.get("errors")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
