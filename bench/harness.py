#!/usr/bin/env python3
"""Benchmark harness: runs every contestant against one release sandbox and prints/writes the results.

Called by bench/run after the builds (it reads target/bench/manifest.json). Standard library only.
Every contestant is a separate process that takes one JSON spec and prints one JSON line:

  spec:   {baseUrl, token, provisioningToken, partnerCode, workload: validate|flow|rss|first_call,
           concurrency, warmupSec, durationSec, calls, idBase}
  result: validate/flow -> {ops, seconds, rps, p50_us, p99_us, errors, first_error}
          rss           -> {calls, rss_before_kb, rss_after_kb, rss_growth_kb, errors}
                           (JVM contestants also: max_gc_pause_ms, gc_pauses from their GC log; jvm_threads_started)
          first_call    -> {import_ms, new_client_ms, first_call_ms, process_to_first_result_ms}
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = ROOT / "target" / "bench"

# (language, contestant id, kind) — kind: binding | core | peer | loadgen
CONTESTANTS = [
    ("rust", "rust-core", "core"),
    ("python", "py-confirma-async", "binding"),
    ("python", "py-confirma-sync", "binding"),
    ("python", "py-aiohttp", "peer"),
    ("python", "py-httpx", "peer"),
    ("node", "node-confirma", "binding"),
    ("node", "node-undici", "peer"),
    ("node", "node-fetch", "peer"),
    ("jvm", "kotlin-confirma", "binding"),
    ("jvm", "kotlin-confirma-blocking", "binding"),
    ("jvm", "jvm-httpclient", "peer"),
    ("jvm", "jvm-okhttp", "peer"),
]
# RSS growth is measured for every binding (and the core); --rss-peers adds the peers.
RSS_IDS = ("rust-core", "py-confirma-async", "py-confirma-sync", "node-confirma", "kotlin-confirma",
           "kotlin-confirma-blocking")
JVM_NAMES = {"kotlin-confirma": "confirma", "kotlin-confirma-blocking": "confirma-blocking",
             "jvm-httpclient": "jdk-httpclient", "jvm-okhttp": "okhttp"}
LOADGEN = "wrk"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


class Sandbox:
    def __init__(self, binary: str, cpus: str | None) -> None:
        cmd = [binary, "--host", "127.0.0.1", "--port", "0"]
        if cpus:
            cmd = ["taskset", "-c", cpus] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        info = json.loads(line)
        self.base_url = info["baseUrl"]
        self.provisioning_token = info["provisioningToken"]
        self.partner_code = info["partnerCode"]

    def request(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("X-Api-Key", token)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def new_token(self) -> str:
        code = "9999993"  # a fixed valid Business ID outside the contestants' ranges
        w = (7, 9, 10, 5, 8, 4, 2)
        r = sum(int(d) * k for d, k in zip(code[:7], w)) % 11
        bid = f"{code[:7]}-{0 if r == 0 else 11 - r}"
        created = self.request("POST", "/api/v1/partner/client", self.provisioning_token, {
            "service": {"type": "LIFECYCLE", "partnerCode": self.partner_code},
            "client": {"name": "Bench Oy", "businessCode": bid, "vatRegNbr": "FI" + bid.replace("-", ""),
                       "postalAddress": "Testikuja 7", "postalCode": "00100", "postalDistrict": "HELSINKI",
                       "countryCode": "FI", "email": "bench@example.fi", "languageCode": "FI"},
            "contacts": [{"role": "PRIMARY", "name": "Bench", "email": "bench@example.fi"}],
        })
        return created["accessToken"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Harness:
    def __init__(self, args: argparse.Namespace, manifest: dict) -> None:
        self.args = args
        self.m = manifest
        ncpu = os.cpu_count() or 1
        self.pin = args.pin and ncpu >= 2 and shutil.which("taskset") is not None
        self.server_cpus = "0" if self.pin else None
        self.client_cpus = ",".join(str(c) for c in range(1, ncpu)) if self.pin else None
        self.id_base = 0
        self.skipped: dict[str, str] = {}
        self.available = {}
        for lang, cid, _kind in CONTESTANTS:
            why = self.unavailable(lang, cid)
            if why:
                self.skipped[cid] = why
            else:
                self.available[cid] = lang
        if args.only:
            keep = set(args.only.split(","))
            self.available = {k: v for k, v in self.available.items() if k in keep or v in keep}
        if not manifest.get("wrk"):
            self.skipped[LOADGEN] = manifest.get("wrk_error", "wrk not installed")

    def unavailable(self, lang: str, cid: str) -> str | None:
        m = self.m
        if lang == "rust":
            return None if m.get("rust_bench") else "Rust contestant not built"
        if lang == "python":
            return None if m.get("python") else m.get("python_error", "Python venv not built")
        if lang == "node":
            return None if m.get("node_dir") else m.get("node_error", "Node scratch project not built")
        if cid in ("kotlin-confirma", "kotlin-confirma-blocking"):
            if not m.get("jvm_classpath"):
                return m.get("jvm_error", "JVM contestants not built")
            return None if m.get("kotlin") else m.get("kotlin_error", "Kotlin binding not available")
        if cid in ("jvm-httpclient", "jvm-okhttp"):
            return None if m.get("jvm_classpath") else m.get("jvm_error", "JVM contestants not built")
        return "unknown"

    # ------------------------------------------------------------------ running one contestant
    def command(self, cid: str, spec: dict) -> tuple[list[str], str | None]:
        s = json.dumps(spec)
        m = self.m
        if cid == "rust-core":
            return [m["rust_bench"], s], None
        if cid.startswith("py-"):
            name = {"py-confirma-async": "confirma-async", "py-confirma-sync": "confirma-sync",
                    "py-aiohttp": "aiohttp", "py-httpx": "httpx"}[cid]
            return [m["python"], str(BENCH / "python" / "contestant.py"), name, s], str(WORK)
        if cid.startswith("node-"):
            flags = ["--expose-gc"] if spec["workload"] == "rss" else []
            return ["node", *flags, str(BENCH / "node" / "contestant.mjs"), cid[5:], s], m["node_dir"]
        if cid in JVM_NAMES:
            flags = []
            if spec["workload"] == "rss":
                # A fixed heap (RSS growth is then native memory, not heap sizing) and the GC log, for the pauses.
                flags = ["-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch", f"-Xlog:gc:file={self.gc_log(cid)}:uptime"]
            return ["java", *self.jvm_flags(), *flags, "-cp", m["jvm_classpath"], "bench.MainKt", JVM_NAMES[cid], s], None
        raise KeyError(cid)

    def jvm_flags(self) -> list[str]:
        """The same flags for every JVM contestant. The common ForkJoinPool gets a parallelism of at least 2:
        its default is (CPUs − 1), i.e. 1 or 0 with the contestant pinned to one CPU, and with a parallelism ≤ 1
        CompletableFuture's default executor (where java.net.http completes every sendAsync future) starts a new
        thread per task instead of using the pool."""
        ncpu = len(self.client_cpus.split(",")) if self.client_cpus else (os.cpu_count() or 1)
        return [f"-Djava.util.concurrent.ForkJoinPool.common.parallelism={max(2, ncpu)}"]

    @staticmethod
    def gc_log(cid: str) -> Path:
        return WORK / "logs" / f"{cid}-rss-gc.log"

    @staticmethod
    def gc_pauses(path: Path) -> dict:
        """The stop-the-world pauses in a JVM's `-Xlog:gc` file ("Pause Young ... 3.456ms", "Pause Full", G1's
        "Pause Remark"/"Pause Cleanup"), apart from the System.gc() collections the rss workload itself requests
        (reported separately as max_system_gc_pause_ms)."""
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return {}
        ms, explicit = [], []
        for m in re.finditer(r"^.*Pause .*?(\d+(?:\.\d+)?)ms\s*$", text, re.M):
            # The workload's own: not the full collections the rss workload asks for (System.gc() before each reading).
            (explicit if "System.gc()" in m.group(0) else ms).append(float(m.group(1)))
        return {"max_gc_pause_ms": round(max(ms), 3) if ms else 0.0, "gc_pauses": len(ms),
                "gc_pause_total_ms": round(sum(ms), 1), "max_system_gc_pause_ms": max(explicit, default=0.0)}

    def run_one(self, cid: str, spec: dict, timeout: float) -> dict:
        cmd, cwd = self.command(cid, spec)
        if self.client_cpus:
            cmd = ["taskset", "-c", self.client_cpus] + cmd
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        wall = time.perf_counter() - t0
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if p.returncode != 0 or not lines:
            return {"error": f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-600:]}"}
        out = json.loads(lines[-1])
        out["wall_s"] = round(wall, 2)
        if cid in JVM_NAMES and spec["workload"] == "rss":
            out.update(self.gc_pauses(self.gc_log(cid)))
        return out

    def spec(self, sb: Sandbox, token: str, workload: str, concurrency: int, **extra) -> dict:
        self.id_base += 250_000
        return {"baseUrl": sb.base_url, "token": token, "provisioningToken": sb.provisioning_token,
                "partnerCode": sb.partner_code, "workload": workload, "concurrency": concurrency,
                "warmupSec": self.args.warmup, "durationSec": self.args.duration,
                "idBase": self.id_base % 10_000_000, **extra}

    def wrk(self, sb: Sandbox, token: str, concurrency: int) -> dict:
        threads = 1 if (self.pin or concurrency == 1) else 2
        base = ["wrk", "-t", str(threads), "-c", str(concurrency), "--latency",
                "-H", f"X-Api-Key: {token}", "-H", "Accept: application/json"]
        if self.client_cpus:
            base = ["taskset", "-c", self.client_cpus] + base
        url = sb.base_url + "/api/v1/partner/validate"
        if self.args.warmup > 0:
            subprocess.run(base + ["-d", f"{max(1, round(self.args.warmup))}s", url], capture_output=True, timeout=60)
        dur = max(1, round(self.args.duration))
        p = subprocess.run(base + ["-d", f"{dur}s", url], capture_output=True, text=True, timeout=dur + 30)
        text = p.stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        if p.returncode != 0 or not m:
            return {"error": f"wrk failed: {p.stderr.strip()[-300:]}"}

        def lat(pc: str) -> int:
            mm = re.search(rf"^\s+{pc}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
            if not mm:
                return 0
            return int(float(mm.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[mm.group(2)])
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        errs = re.search(r"Socket errors:.*", text)
        return {"rps": float(m.group(1)), "p50_us": lat("50"), "p99_us": lat("99"), "seconds": dur,
                "errors": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errs.group(0) if errs else None}

    # ------------------------------------------------------------------ the whole run
    def run(self) -> dict:
        a = self.args
        results: dict = {
            "started": dt.datetime.now().isoformat(timespec="seconds"),
            "mode": "smoke" if a.smoke else "full",
            "settings": {"durationSec": a.duration, "warmupSec": a.warmup, "rssCalls": a.rss_calls,
                         "pinned": self.pin, "serverCpus": self.server_cpus, "clientCpus": self.client_cpus,
                         "concurrency": a.concurrency},
            "machine": machine(),
            "load_before": loadavg(),
            "skipped": self.skipped,
            "cells": {},
            "rss": {},
            "startup": {},
        }
        for cid, why in self.skipped.items():
            log(f"SKIP {cid}: {why}")
        sb = Sandbox(self.m["sandbox"], self.server_cpus)
        try:
            token = sb.new_token()
            log(f"sandbox at {sb.base_url}; pinned={self.pin}; load {loadavg()}")
            cells = [("A", c) for c in a.concurrency] + [("B", 16)]
            timeout = a.warmup + a.duration + 120
            for wl, conc in cells:
                key = f"{wl}{conc}"
                cell: dict = {}
                results["cells"][key] = cell
                for cid in self.available:
                    spec = self.spec(sb, token, "validate" if wl == "A" else "flow", conc)
                    if self.available[cid] == "jvm" and not a.smoke:
                        spec["warmupSec"] = max(a.warmup, a.jvm_warmup)  # let the JIT compile the hot path
                    r = self.run_one(cid, spec, timeout)
                    r["load"] = loadavg()
                    cell[cid] = r
                    log(f"{key:4} {cid:18} {fmt_cell(r)}  (load {r['load']})")
                if wl == "A" and LOADGEN not in self.skipped:
                    r = self.wrk(sb, token, conc)
                    r["load"] = loadavg()
                    cell[LOADGEN] = r
                    log(f"{key:4} {LOADGEN:18} {fmt_cell(r)}")
            # RSS growth: the SDK in each language (and the peers when asked), at concurrency 64.
            rss_ids = [c for c in self.available if c in RSS_IDS or a.rss_peers]
            for cid in rss_ids:
                spec = self.spec(sb, token, "rss", 64, calls=a.rss_calls)
                r = self.run_one(cid, spec, 900)
                results["rss"][cid] = r
                log(f"RSS  {cid:18} {fmt_rss(r)}")
            # Start-up: import/require + client construction + first call, in fresh processes.
            for cid in self.available:
                runs = [self.run_one(cid, self.spec(sb, token, "first_call", 1), 120) for _ in range(a.startup_runs)]
                results["startup"][cid] = median_dict(runs)
                log(f"START {cid:17} {fmt_start(results['startup'][cid])}")
            if "py-confirma-async" in self.available or "py-confirma-sync" in self.available:
                results["python_import"] = self.python_imports()
                log(f"python import times (ms, median): {results['python_import']}")
            results["sandbox_state"] = sb.request("GET", "/_sandbox/state")
        finally:
            sb.stop()
        results["load_after"] = loadavg()
        results["artifacts"] = artifacts(self.m)
        results["build"] = self.m.get("build", {})
        results["ratios"] = ratios(results)
        results["targets"] = targets(results)
        return results

    def python_imports(self) -> dict:
        out = {}
        for mod in ("confirma", "aiohttp", "httpx"):
            times = []
            for _ in range(self.args.startup_runs + 2):
                code = f"import time;t=time.perf_counter();import {mod};print((time.perf_counter()-t)*1e3)"
                p = subprocess.run([self.m["python"], "-c", code], capture_output=True, text=True, cwd=str(WORK))
                if p.returncode == 0:
                    times.append(float(p.stdout.strip()))
            out[mod] = round(statistics.median(times), 1) if times else None
        return out


def median_dict(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r or r.get("error") is None]
    if not ok:
        return runs[0]
    out = {}
    for k in ok[0]:
        vals = [r[k] for r in ok if isinstance(r.get(k), (int, float))]
        out[k] = round(statistics.median(vals), 2) if vals else ok[0][k]
    return out


def fmt_cell(r: dict) -> str:
    if "rps" not in r:
        return f"ERROR {r.get('error')}"
    e = f" errors={r['errors']} ({r.get('first_error')})" if r.get("errors") else ""
    return f"{r['rps']:9.0f} req/s  p50 {r['p50_us']:6d} µs  p99 {r['p99_us']:6d} µs{e}"


def fmt_rss(r: dict) -> str:
    if "rss_growth_kb" not in r:
        return f"ERROR {r.get('error')}"
    gc = f", max GC pause {r['max_gc_pause_ms']:.1f} ms" if "max_gc_pause_ms" in r else ""
    return f"{r['rss_before_kb'] / 1024:.1f} MB -> {r['rss_after_kb'] / 1024:.1f} MB (growth {r['rss_growth_kb'] / 1024:+.2f} MB over {r['calls']} calls, errors {r['errors']}{gc})"


def fmt_start(r: dict) -> str:
    if "first_call_ms" not in r:
        return f"ERROR {r.get('error')}"
    return (f"import {r.get('import_ms', 0):.1f} ms, new client {r.get('new_client_ms', 0):.1f} ms, "
            f"first call {r['first_call_ms']:.1f} ms, process→first result {r.get('process_to_first_result_ms', 0):.0f} ms")


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass

    def ver(cmd: list[str]) -> str:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "n/a"
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory": mem, "kernel": platform.release(),
            "rustc": ver(["rustc", "--version"]), "python": ver([sys.executable, "--version"]),
            "node": ver(["node", "--version"]), "java": ver(["java", "-version"]), "wrk": ver(["wrk", "--version"])}


def artifacts(m: dict) -> dict:
    out = {}
    for key, path in (m.get("artifacts") or {}).items():
        if path and Path(path).exists():
            out[key] = {"path": os.path.relpath(path, ROOT), "bytes": Path(path).stat().st_size}
    wheel = (m.get("artifacts") or {}).get("wheel")
    if wheel and Path(wheel).exists():
        with zipfile.ZipFile(wheel) as z:
            so = [i for i in z.infolist() if i.filename.endswith(".so")]
            if so:
                out["wheel_native_so"] = {"path": so[0].filename, "bytes": so[0].file_size}
    jar = (m.get("artifacts") or {}).get("jar")
    if jar and Path(jar).exists():
        with zipfile.ZipFile(jar) as z:
            so = [i for i in z.infolist() if i.filename.endswith(".so")]
            if so:
                out["jar_native_so"] = {"path": so[0].filename, "bytes": so[0].file_size}
    return out


BINDINGS = {"python": ["py-confirma-async", "py-confirma-sync"], "node": ["node-confirma"],
            "jvm": ["kotlin-confirma", "kotlin-confirma-blocking"]}
PEERS = {"python": ["py-aiohttp", "py-httpx"], "node": ["node-undici", "node-fetch"], "jvm": ["jvm-httpclient", "jvm-okhttp"]}


def rps(cell: dict, cid: str) -> float | None:
    r = cell.get(cid) or {}
    return r.get("rps") if not r.get("errors") else None


def ratios(res: dict) -> dict:
    out: dict = {}
    for key, cell in res["cells"].items():
        row: dict = {}
        core = rps(cell, "rust-core")
        lg = rps(cell, LOADGEN)
        if core and lg:
            row["rust-core/wrk"] = core / lg
        for lang, bids in BINDINGS.items():
            peers = [(p, rps(cell, p)) for p in PEERS[lang] if rps(cell, p)]
            best = max(peers, key=lambda x: x[1]) if peers else None
            for b in bids:
                v = rps(cell, b)
                if not v:
                    continue
                if core:
                    row[f"{b}/rust-core"] = v / core
                if best:
                    row[f"{b}/best-peer({best[0]})"] = v / best[1]
                for p, pv in peers:
                    row[f"{b}/{p}"] = v / pv
                if key == "A1" and cell.get("rust-core", {}).get("p50_us"):
                    row[f"{b} added p50 µs"] = cell[b]["p50_us"] - cell["rust-core"]["p50_us"]
        out[key] = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
    return out


CELLS = ("A1", "A16", "A64", "B16")


def added_p50(res: dict, cid: str) -> int | None:
    """p50 latency at concurrency 1 (cell A1) minus the Rust core's in the same run, in µs."""
    a1 = res["cells"].get("A1", {})
    b, core = a1.get(cid) or {}, a1.get("rust-core") or {}
    if b.get("p50_us") is None or not core.get("p50_us") or b.get("errors"):
        return None
    return b["p50_us"] - core["p50_us"]


def targets(res: dict) -> list[dict]:
    """The verdict table: issue 13's targets first, then the older ones (issue 6) that still apply. Each entry:
    {target, value (the figure), met (True/False/None = n/a), detail, group}."""
    t: list[dict] = []

    def add(group: str):
        def f(name: str, value, ok, detail: str = "") -> None:
            t.append({"group": group, "target": name, "value": value,
                      "met": None if value is None or ok is None else bool(ok), "detail": detail})
        return f
    issue13_targets(res, add("issue 13"))
    older_targets(res, add("older (issue 6)"))
    return t


def every_cell(res: dict, b: str, p: str, need: float, add) -> None:
    """b ≥ need × p in every cell (A1, A16, A64, B16): the figure is the lowest ratio, the detail every cell."""
    r = res["ratios"]
    vals = {k: r.get(k, {}).get(f"{b}/{p}") for k in CELLS}
    have = {k: v for k, v in vals.items() if v is not None}
    detail = " / ".join(f"{k} {'—' if v is None else v}" for k, v in vals.items())
    name = f"{b} ≥ {need}× {p} in every cell"
    if not have:
        add(name, None, None, "not measured")
        return
    low = min(have.values())
    if len(have) < len(CELLS) and low >= need:
        add(name, None, None, f"cells missing: {detail}")  # met so far, but not every cell was measured
        return
    add(name, low, low >= need, detail)


def issue13_targets(res: dict, add) -> None:
    r = res["ratios"]
    # Kotlin vs the Rust core at c=16 and c=64.
    for key in ("A16", "A64"):
        v = r.get(key, {}).get("kotlin-confirma/rust-core")
        add(f"kotlin-confirma ≥ 0.9× rust-core ({key})", v, v is not None and v >= 0.9)
    d = added_p50(res, "kotlin-confirma")
    add("kotlin-confirma added p50 at c=1 ≤ 50 µs", d, d is not None and d <= 50, "µs over rust-core's p50 (A1)")
    d = added_p50(res, "kotlin-confirma-blocking")
    add("kotlin-confirma-blocking added p50 at c=1 ≤ 25 µs", d, d is not None and d <= 25,
        "µs over rust-core's p50 (A1)" if d is not None else "contestant absent")
    for b, p, need in (("kotlin-confirma", "jvm-okhttp", 1.0), ("kotlin-confirma", "jvm-httpclient", 1.0),
                       ("node-confirma", "node-undici", 1.0), ("py-confirma-async", "py-aiohttp", 2.0)):
        every_cell(res, b, p, need, add)
    # RSS growth of every binding and the core.
    for cid in RSS_IDS:
        rr = res["rss"].get(cid)
        g = (rr or {}).get("rss_growth_kb")
        calls = (rr or {}).get("calls")
        detail = "MB over %s calls" % calls if g is not None else ("not measured" if rr is None else str(rr.get("error")))
        ok = g is not None and g <= 5 * 1024 and not rr.get("errors")
        if g is not None and (calls or 0) < 200_000:
            detail += " (fewer than 200k: --rss-calls; not evaluated)"
            ok = None
        add(f"{cid} RSS growth ≤ 5 MB over 200k calls", None if g is None else round(g / 1024, 2), ok, detail)
    kr = res["rss"].get("kotlin-confirma") or {}
    gcp = kr.get("max_gc_pause_ms")
    add("no GC pause over 100 ms in the Kotlin RSS run", gcp, gcp is not None and gcp <= 100,
        "ms, longest pause" if gcp is not None else "max_gc_pause_ms not reported")
    # The JVM cold start beside the other languages' start-up (reported, not a limit).
    st = res["startup"]
    k = st.get("kotlin-confirma") or {}
    if "first_call_ms" in k:
        others = ", ".join(f"{cid} {fmt_cold(st[cid])}" for cid in ("rust-core", "py-confirma-async", "node-confirma")
                           if "first_call_ms" in (st.get(cid) or {}))
        add("JVM cold start reported beside the other languages", k.get("wall_s") and round(k["wall_s"] * 1e3),
            True, f"ms process wall; kotlin-confirma {fmt_cold(k)}; {others}")
    else:
        add("JVM cold start reported beside the other languages", None, None,
            "kotlin-confirma start-up not measured" if not k else str(k.get("error")))


def fmt_cold(r: dict) -> str:
    """Cold start of one contestant: the process's wall time (spawn → exit, VM start included) and, inside it,
    load + client + first call."""
    wall = f"{r['wall_s'] * 1e3:.0f} ms wall" if isinstance(r.get("wall_s"), (int, float)) else "wall ?"
    inside = (r.get("import_ms") or 0) + (r.get("new_client_ms") or 0) + (r.get("first_call_ms") or 0)
    return f"{wall} (load+client+first call {inside:.0f} ms)"


def older_targets(res: dict, add) -> None:
    r = res["ratios"]
    a64 = r.get("A64", {})
    for key in ("A1", "A16", "A64"):
        v = r.get(key, {}).get("rust-core/wrk")
        if key == "A64" or v is not None:
            add(f"Rust core ≥ 0.7× wrk ({key})", v, v is not None and v >= 0.7)
    for b in ("py-confirma-async", "py-confirma-sync", "node-confirma"):
        v = a64.get(f"{b}/rust-core")
        add(f"{b} ≥ 0.9× Rust core at c=64", v, v is not None and v >= 0.9)
        d = added_p50(res, b)
        add(f"{b} added p50 ≤ 15 µs at c=1", d, d is not None and d <= 15)
    imp = (res.get("python_import") or {}).get("confirma")
    add("import confirma ≤ 50 ms", imp, imp is not None and imp <= 50)
    arts = res["artifacts"]
    for key, limit in (("wheel", 5), ("node_addon", 5), ("jar", 6)):
        b = arts.get(key, {}).get("bytes")
        add(f"{key} ≤ {limit} MB", None if b is None else round(b / 1e6, 2), b is not None and b <= limit * 1e6)


def verdict_lines(res: dict) -> list[str]:
    """The targets block: one line per target, [MET] / [MISS] / [n/a], the figure and how it was read."""
    out, group = [], None
    for t in res["targets"]:
        if t.get("group") != group:
            group = t.get("group")
            out.append(f"  {group}:")
        mark = "[n/a] " if t["met"] is None else ("[MET] " if t["met"] else "[MISS]")
        fig = "—" if t["value"] is None else t["value"]
        out.append(f"    {mark} {t['target']}: {fig}" + (f"  ({t['detail']})" if t.get("detail") else ""))
    met = sum(1 for t in res["targets"] if t["met"])
    miss = sum(1 for t in res["targets"] if t["met"] is False)
    na = sum(1 for t in res["targets"] if t["met"] is None)
    out.append(f"  {met} met, {miss} missed, {na} n/a")
    return out


def table(res: dict) -> str:
    lines = []
    ids = [cid for _l, cid, _k in CONTESTANTS] + [LOADGEN]
    keys = list(res["cells"])
    hdr = "| contestant | " + " | ".join(
        f"{k} req/s | {k} p50/p99 µs" for k in keys) + " |"
    lines.append(hdr)
    lines.append("|" + "---|" * (1 + 2 * len(keys)))
    for cid in ids:
        if not any(cid in res["cells"][k] for k in keys):
            continue
        row = [cid]
        for k in keys:
            r = res["cells"][k].get(cid)
            if r is None:
                row += ["—", "—"]
            elif "rps" not in r:
                row += ["error", str(r.get("error"))[:40]]
            else:
                err = f" ({r['errors']} err)" if r.get("errors") else ""
                row += [f"{r['rps']:,.0f}{err}", f"{r['p50_us']} / {r['p99_us']}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def report(res: dict) -> str:
    out = []
    s = res["settings"]
    out.append(f"Workload A = validate_token at concurrency {', '.join(map(str, s['concurrency']))}; "
               f"B = create→validate→renew→validate at 16 (B rates are flows/s, 4 calls each). "
               f"{s['warmupSec']} s warm-up + {s['durationSec']} s measured per cell; "
               f"sandbox pinned to CPU {s['serverCpus']}, contestants to CPU {s['clientCpus']}" if s["pinned"] else
               f"{s['warmupSec']} s warm-up + {s['durationSec']} s per cell, not pinned")
    out.append(f"load average before {res['load_before']}, after {res['load_after']}")
    out.append("")
    out.append(table(res))
    out.append("")
    out.append("Ratios (req/s ÷ req/s; same run):")
    for key, row in res["ratios"].items():
        out.append(f"  {key}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    out.append("")
    out.append("RSS growth (concurrency 64; the SDK in each language, --rss-peers adds the peers):")
    for cid, r in res["rss"].items():
        out.append(f"  {cid:18} {fmt_rss(r)}")
    out.append("Start-up (median of fresh processes):")
    for cid, r in res["startup"].items():
        out.append(f"  {cid:18} {fmt_start(r)}")
    walls = [f"{cid} {r['wall_s'] * 1e3:.0f}" for cid, r in res["startup"].items() if isinstance(r.get("wall_s"), (int, float))]
    if walls:
        out.append("  process wall, spawn → exit (runtime/VM start included), ms: " + ", ".join(walls))
    if res.get("python_import"):
        out.append(f"  python -c 'import X' (ms): {res['python_import']}")
    out.append("Artifacts:")
    for k, v in res["artifacts"].items():
        out.append(f"  {k:16} {v['bytes'] / 1e6:6.2f} MB  {v['path']}")
    if res.get("build"):
        out.append("Build (s): " + ", ".join(f"{k} {v}" for k, v in res["build"].items()))
    if res["skipped"]:
        out.append("Skipped: " + "; ".join(f"{k}: {v}" for k, v in res["skipped"].items()))
    out.append("")
    if res["mode"] == "smoke":
        out.append("Targets: not evaluated in smoke mode (debug builds, a few hundred calls).")
        return "\n".join(out)
    out.append("Targets (ratios from this run; see bench/README.md, \"Targets\"):")
    out += verdict_lines(res)
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a few hundred calls per contestant; fails on any error")
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--jvm-warmup", type=float, default=2.0, help="minimum warm-up of JVM contestants")
    ap.add_argument("--rss-calls", type=int, default=200_000)
    ap.add_argument("--rss-peers", action="store_true", help="measure RSS growth of the peers too")
    ap.add_argument("--startup-runs", type=int, default=2)
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--only", default="", help="comma-separated contestant ids or languages")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin sandbox and contestants to CPUs")
    ap.add_argument("--manifest", default=str(WORK / "manifest.json"))
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    a.concurrency = [int(c) for c in a.concurrency.split(",")]
    if a.smoke:
        a.duration, a.warmup, a.rss_calls, a.startup_runs = 0.15, 0.0, 300, 1
    manifest = json.loads(Path(a.manifest).read_text())
    res = Harness(a, manifest).run()
    text = report(res)
    print(text)
    out = Path(a.out) if a.out else BENCH / "results" / f"{res['mode']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    (out.parent / f"latest-{res['mode']}.txt").write_text(text + "\n")
    log(f"results written to {os.path.relpath(out, ROOT)}")
    if a.smoke:
        bad = [f"{k}/{cid}: {r.get('error') or r.get('first_error')}" for k, cell in res["cells"].items()
               for cid, r in cell.items() if "rps" not in r or r.get("errors") or not r.get("ops", 1)]
        bad += [f"rss/{cid}: {r.get('error')}" for cid, r in res["rss"].items() if "rss_growth_kb" not in r or r.get("errors")]
        bad += [f"startup/{cid}: {r.get('error')}" for cid, r in res["startup"].items() if r.get("error")]
        if bad:
            print("SMOKE FAILED:\n  " + "\n  ".join(bad), file=sys.stderr)
            return 1
        print("smoke: all contestants ran without errors", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
