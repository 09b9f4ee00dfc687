#!/usr/bin/env python3
"""The Kotlin binding's memory and GC behaviour, in each way a call comes back to the JVM (issue 13, item 1).

Runs the kotlin-confirma contestant's `rss` workload (validate at concurrency 64) against a release sandbox in
three modes (MODES below: the completion queue, the default; uniffi's futures with the runtime's worker threads
attached to the JVM once; uniffi's futures with JNA's default of attaching and detaching them per call, i.e. the
binding before issue 13), each JVM with

    -Xms256m -Xmx256m -XX:+AlwaysPreTouch            a fixed heap: RSS growth is native memory, not heap sizing
    -Xlog:gc*,gc+ref=debug,safepoint:file=...         every pause, reference processing, safepoint
    -XX:NativeMemoryTracking=summary                  jcmd VM.native_memory summary at the end

and reports: calls/s, JVM threads started during the calls (a JNA attach makes a new java.lang.Thread), the RSS
before, right after (200 ms after System.gc()) and after more than 6 s idle (past JNA's 5 s Cleaner drain), the
longest GC pause and the longest time-to-safepoint from the log, `jcmd GC.class_histogram -all` right after the
calls (garbage included: JNA Memory / Cleaner references / Threads the calls left behind) and the live histogram
and NMT totals after the idle period.

    ./bench/run --only kotlin-confirma --skip-build ...   (or a full ./bench/run once: builds the manifest)
    python3 bench/jvm/gc-profile.py [--calls 200000] [--idle 7] [--modes queue,attached,detach] [--json out.json]
    python3 bench/jvm/gc-profile.py --modes queue --jfr   # + a JFR profile: the hottest frames (self and
                                                             #   inclusive) of the Java threads during the calls

Needs target/bench/manifest-release.json (from ./bench/run) for the classpath and the sandbox binary.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import harness  # noqa: E402  (bench/harness.py: the sandbox and the manifest)

# queue: the default (validate through the completion queue: no native thread calls into the JVM);
# attached: uniffi's futures, native workers attached once (the continuation callback runs on them);
# detach: uniffi's futures with JNA's default, attach + detach per callback (the binding before issue 13).
MODES = {"queue": [], "attached": ["-Dcom.confirmafinance.sdk.noCompletionQueue=true"],
         "detach": ["-Dcom.confirmafinance.sdk.noCompletionQueue=true", "-Dcom.confirmafinance.sdk.detachPerCall=true"]}


def log_figures(path: Path) -> dict:
    text = path.read_text(errors="replace") if path.exists() else ""
    pauses = [float(m.group(1)) for m in re.finditer(r"^.*\bPause .*?(\d+(?:\.\d+)?)ms\s*$", text, re.M)
              if "System.gc()" not in m.group(0)]  # not the full GCs the workload requests before its readings
    # -Xlog:safepoint (JDK 17): "Safepoint "G1CollectForAllocation", Time since last: ... Reaching safepoint: 123 ns,
    # At safepoint: 456 ns, Total: 789 ns"
    reach = [int(m.group(1)) for m in re.finditer(r"Reaching safepoint: (\d+) ns", text)]
    total = [int(m.group(1)) for m in re.finditer(r"Total: (\d+) ns", text)]
    return {"gc_pauses": len(pauses), "max_gc_pause_ms": max(pauses, default=0.0),
            "gc_pause_total_ms": round(sum(pauses), 1), "safepoints": len(total),
            "max_time_to_safepoint_ms": round(max(reach, default=0) / 1e6, 3),
            "max_safepoint_total_ms": round(max(total, default=0) / 1e6, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--idle", type=float, default=7.0, help="seconds idle before the last RSS reading (> 6)")
    ap.add_argument("--modes", default="queue,attached,detach")
    ap.add_argument("--contestant", default="kotlin-confirma", choices=["kotlin-confirma", "kotlin-confirma-blocking"])
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--jfr", action="store_true", help="record a JFR profile (settings=profile) and print its top frames")
    a = ap.parse_args()
    m = json.loads((harness.WORK / "manifest-release.json").read_text())
    if not m.get("kotlin"):
        raise SystemExit(f"the Kotlin contestant is not built: {m.get('kotlin_error')}")
    pin = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    sb = harness.Sandbox(m["sandbox"], "0" if pin else None)
    logs = harness.WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        token = sb.new_token()
        for mode in a.modes.split(","):
            gc_log = logs / f"gc-profile-{mode}.log"
            spec = {"baseUrl": sb.base_url, "token": token, "provisioningToken": sb.provisioning_token,
                    "partnerCode": sb.partner_code, "workload": "rss", "concurrency": a.concurrency,
                    "calls": a.calls, "idleSec": a.idle, "diagnostics": True,
                    **({"jfrDump": str(logs / f"gc-profile-{mode}.jfr")} if a.jfr else {})}
            cmd = ["java", "-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch",
                   f"-Xlog:gc*,gc+ref=debug,safepoint:file={gc_log}:uptime",
                   "-XX:NativeMemoryTracking=summary", "-Djava.util.concurrent.ForkJoinPool.common.parallelism=2",
                   *MODES[mode], *([f"-XX:StartFlightRecording=settings=profile,filename={logs / f'gc-profile-{mode}.jfr'}"]
                                   if a.jfr else []), "-cp", m["jvm_classpath"], "bench.MainKt", harness.JVM_NAMES[a.contestant],
                   json.dumps(spec)]
            if pin:
                cmd = ["taskset", "-c", ",".join(str(c) for c in range(1, os.cpu_count() or 2))] + cmd
            print(f"-- {mode}: {a.calls} calls at concurrency {a.concurrency} (GC log {gc_log})", file=sys.stderr)
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            if p.returncode != 0 or not lines:
                raise SystemExit(f"{mode}: exit {p.returncode}: {p.stderr[-800:]}")
            r = json.loads(lines[-1])
            r.update(log_figures(gc_log))
            results[mode] = r
            if a.jfr:
                print(jfr_top(logs / f"gc-profile-{mode}.jfr"))
    finally:
        sb.stop()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    print(table(results))


def jfr_top(path: Path, n: int = 25) -> str:
    """The hottest frames of a JFR file's execution samples (Java code) and native-method samples (threads in native
    code: JNA calls, the drainer's wait), self (top frame) and inclusive (anywhere in the stack)."""
    out = []
    for event in ("jdk.ExecutionSample", "jdk.NativeMethodSample"):
        p = subprocess.run(["jfr", "print", "--events", event, "--stack-depth", "64", str(path)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            out.append(f"jfr print failed: {p.stderr[-300:]}")
            continue
        self_c: dict = {}
        incl: dict = {}
        samples = 0
        for block in p.stdout.split(event + " {")[1:]:
            frames = re.findall(r"^\s+([\w$.<>/]+\([^=]*?\))(?:\s+line:.*)?\s*$", block, re.M)
            if not frames:
                continue
            samples += 1
            self_c[frames[0]] = self_c.get(frames[0], 0) + 1
            for f in set(frames):
                incl[f] = incl.get(f, 0) + 1
        out.append(f"## {event}: {samples} samples\n### self")
        out += [f"{c / samples:6.1%}  {f}" for f, c in sorted(self_c.items(), key=lambda x: -x[1])[:n]]
        out.append("### inclusive")
        out += [f"{c / samples:6.1%}  {f}" for f, c in sorted(incl.items(), key=lambda x: -x[1])[:n]]
    return "\n".join(out)


def table(results: dict) -> str:
    def inst(r: dict, key: str, cls: str) -> str:
        v = (r.get(key) or {}).get(cls)
        return f"{v['instances']:,}" if isinstance(v, dict) else "0"

    rows = [
        ("calls/s (concurrency 64)", lambda r: f"{r['calls_per_sec']:,.0f}"),
        ("JVM threads started during the calls", lambda r: f"{r['jvm_threads_started']:,}"),
        ("JVM threads live at the end", lambda r: f"{r['jvm_threads_live']}"),
        ("RSS before → after the calls (MB)",
         lambda r: f"{r['rss_before_kb'] / 1024:.1f} → {r['rss_after_kb'] / 1024:.1f} ({r['rss_growth_kb'] / 1024:+.1f})"),
        ("RSS after > 6 s idle, then after a GC (MB)",
         lambda r: f"{r.get('rss_idle_kb', 0) / 1024:.1f}, {r.get('rss_idle_gc_kb', 0) / 1024:.1f} "
                   f"({r.get('rss_idle_growth_kb', 0) / 1024:+.1f})"),
        ("GC pauses: count, longest, total (ms)",
         lambda r: f"{r['gc_pauses']}, {r['max_gc_pause_ms']:.1f}, {r['gc_pause_total_ms']:.0f}"),
        ("longest time to safepoint / safepoint (ms)",
         lambda r: f"{r['max_time_to_safepoint_ms']:.2f} / {r['max_safepoint_total_ms']:.2f}"),
    ]
    for cls in ("java.lang.Thread", "com.sun.jna.Memory", "com.sun.jna.Structure$AutoAllocated",
                "com.sun.jna.Memory$MemoryDisposer", "com.sun.jna.internal.Cleaner$CleanerRef",
                "com.confirmafinance.sdk.UniffiRustCallStatus", "com.confirmafinance.sdk.RustBuffer$ByValue"):
        rows.append((f"`{cls}` right after the calls (histogram -all) / live after idle",
                     lambda r, c=cls: f"{inst(r, 'histogram_after_calls_all', c)} / {inst(r, 'histogram_live', c)}"))
    for cat in ("Total", "Thread", "Internal", "Other", "Class", "Symbol"):
        rows.append((f"NMT committed: {cat}", lambda r, c=cat: (r.get("nmt") or {}).get(c, "—")))
    modes = list(results)
    out = ["| | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    for name, f in rows:
        cells = []
        for mode in modes:
            try:
                cells.append(f(results[mode]))
            except (KeyError, TypeError):
                cells.append("—")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
