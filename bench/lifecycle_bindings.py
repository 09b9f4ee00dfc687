"""The per-language cost of ``TokenManager.token()`` on the hot path (the token served from memory), with each
binding installed the way ``bench/run`` installs it (the wheel in its venv, the npm tarball in its scratch
project, the Kotlin jar on the JVM contestants' classpath), against one release sandbox::

    python3 bench/lifecycle_bindings.py --manifest target/bench/manifest-release.json [--smoke]

Each language's script (``bench/python/lifecycle.py``, ``bench/node/lifecycle.mjs``, the JVM
``TokenHotPath`` main of ``bench/jvm``) creates one client with a ``MemoryStore``, warms up (the first
``token()`` loads and validates), then times sequential ``token()`` calls and prints lines like
``python-sync token() hot path: 321 ns/call (200000 calls)``. The provisioning token goes through the
environment, never argv. A language whose artifact is missing from the manifest is skipped with its reason.
Exit status 1 if a script fails (``--smoke``: the CI check that every row still runs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Sandbox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^(?P<name>.+?): (?P<ns>[\d.]+) ns/call \((?P<calls>\d+) calls\)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--smoke", action="store_true", help="a few thousand calls per row (CI)")
    p.add_argument("--out", help="write the rows as JSON here")
    a = p.parse_args()
    m = json.loads(Path(a.manifest).read_text())
    sb = Sandbox(m["sandbox"], None)
    env = dict(
        os.environ,
        CONFIRMA_BASE_URL=sb.base_url,
        CONFIRMA_PROVISIONING_TOKEN=sb.provisioning_token,
        CONFIRMA_PARTNER_CODE=sb.partner_code,
    )
    runs: list[tuple[str, list[str], str | None, str | None]] = []
    if m.get("python"):
        calls = ["--calls", "5000", "--rounds", "1"] if a.smoke else []
        runs.append(("python", [m["python"], str(ROOT / "bench/python/lifecycle.py"), *calls], None, None))
    else:
        runs.append(("python", [], None, m.get("python_error") or "no Python build"))
    if m.get("node_dir"):
        secs = "0.3" if a.smoke else "3"
        cmd = ["node", str(ROOT / "bench/node/lifecycle.mjs"), sb.base_url, sb.partner_code, secs]
        runs.append(("node", cmd, m["node_dir"], None))
    else:
        runs.append(("node", [], None, m.get("node_error") or "no Node build"))
    if m.get("kotlin") and m.get("jvm_classpath"):
        secs = "0.3" if a.smoke else "3"
        cmd = ["java", "-cp", m["jvm_classpath"], "bench.TokenHotPathKt", sb.base_url, sb.partner_code, secs]
        runs.append(("kotlin", cmd, None, None))
    else:
        runs.append(("kotlin", [], None, m.get("kotlin_error") or "no Kotlin build"))

    rows: list[dict[str, object]] = []
    failed = False
    try:
        for lang, cmd, cwd, skipped in runs:
            if skipped:
                print(f"  {lang:<8} skipped: {skipped}")
                continue
            r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
            found = [ROW.match(line) for line in r.stdout.splitlines()]
            found = [f for f in found if f]
            if r.returncode != 0 or not found:
                failed = True
                print(f"  {lang:<8} FAILED (exit {r.returncode}): {(r.stderr or r.stdout).strip()[-800:]}")
                continue
            for f in found:
                rows.append({"row": f["name"], "ns_per_call": float(f["ns"]), "calls": int(f["calls"])})
    finally:
        sb.proc.terminate()
        sb.proc.wait(timeout=10)
    print("  token() on the hot path (sequential calls, one client, MemoryStore; Rust: the lifecycle bench above)")
    for row in rows:
        print(f"    {row['row']:<44} {row['ns_per_call']:>10.0f} ns/call  ({row['calls']} calls)")
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
