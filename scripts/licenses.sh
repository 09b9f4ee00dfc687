#!/usr/bin/env bash
# The third-party license report for the native libraries we ship (the Python extension, the Node addon, the
# Kotlin/JNA library, the sandbox and CLI binaries, the `confirma` crate): every crate compiled into them, with
# its version, SPDX license expression and repository, checked against an allow-list.
#
#   scripts/licenses.sh OUTFILE          # Markdown report (cargo metadata + allow-list); fails on a license
#                                        # outside the allow-list or a crate without a license field
#   scripts/licenses.sh --check          # only the allow-list check, no file (the fast form for ./scripts/test)
#   scripts/licenses.sh --full OUTFILE   # the report above + the full license texts from cargo-about
#                                        # (installed from crates.io into target/tools/ on first use; ~7 min on
#                                        # 2 cores, so only scripts/release asks for it)
#
# Offline: cargo metadata reads Cargo.lock and the local registry cache; cargo-about runs with --offline (no
# clearlydefined.io look-ups) and reads the license files inside the crate sources.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}
export CARGO_TERM_COLOR=never

full=0 check=0 out=
while [ $# -gt 0 ]; do
    case "$1" in
        --full) full=1 ;;
        --check) check=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "licenses.sh: unknown option $1" >&2; exit 2 ;;
        *) out=$1 ;;
    esac
    shift
done
if [ $check = 0 ] && [ -z "$out" ]; then
    echo "usage: scripts/licenses.sh [--full] OUTFILE | --check" >&2
    exit 2
fi

# The crates whose compiled code ends up in an artifact we publish.
ROOTS="confirma confirma-sandbox confirma-cli confirma-python confirma-node confirma-kotlin"
# SPDX identifiers we accept (permissive, or MPL-2.0's file-level copyleft: uniffi's runtime). An expression
# passes when its OR/AND structure can be satisfied with these.
ALLOW="Apache-2.0 MIT ISC BSD-2-Clause BSD-3-Clause Unicode-3.0 Unicode-DFS-2016 Zlib BSL-1.0 Unlicense CC0-1.0 MPL-2.0 Apache-2.0-WITH-LLVM-exception"

meta=$(mktemp)
trap 'rm -f "$meta"' EXIT
cargo metadata --locked --format-version 1 --filter-platform "$CARGO_BUILD_TARGET" >"$meta"

version=$("$ROOT/scripts/version" 2>/dev/null || echo unknown)
python3 - "$meta" "$check" "${out:-}" "$version" "$ROOTS" "$ALLOW" "$CARGO_BUILD_TARGET" <<'PY'
import json, re, sys
meta_path, check, out, version, roots, allow, target = sys.argv[1:8]
allow = set(allow.split())
m = json.load(open(meta_path))
pkgs = {p["id"]: p for p in m["packages"]}
nodes = {n["id"]: n for n in m["resolve"]["nodes"]}
workspace = set(m["workspace_members"])
root_ids = [i for i in workspace if pkgs[i]["name"] in roots.split()]

# Walk normal and build dependencies (dev dependencies never reach an artifact). Remember whether a crate is
# reachable as a normal (linked) dependency or only at build time (build scripts, proc macros).
linked, build_only = set(), set()
def walk(start, kinds_ok, acc):
    stack = list(start)
    while stack:
        i = stack.pop()
        if i in acc:
            continue
        acc.add(i)
        for d in nodes[i]["deps"]:
            if any(k["kind"] in kinds_ok for k in d["dep_kinds"]):
                stack.append(d["pkg"])
walk(root_ids, (None,), linked)
everything = set()
walk(root_ids, (None, "build"), everything)
for i in list(linked):
    if any(t["kind"] == ["proc-macro"] for t in pkgs[i]["targets"]):
        linked.discard(i)
build_only = everything - linked

def tokens(expr):
    expr = expr.replace("/", " OR ")  # old-style "MIT/Apache-2.0"
    expr = re.sub(r"(\S+)\s+WITH\s+(\S+)", r"\1-WITH-\2", expr)
    return re.findall(r"\(|\)|[A-Za-z0-9.+-]+", expr)

def satisfiable(expr):
    toks = tokens(expr)
    pos = 0
    def parse_or():
        nonlocal pos
        v = parse_and()
        while pos < len(toks) and toks[pos].upper() == "OR":
            pos += 1
            v = parse_and() or v
        return v
    def parse_and():
        nonlocal pos
        v = parse_atom()
        while pos < len(toks) and toks[pos].upper() == "AND":
            pos += 1
            v = parse_atom() and v
        return v
    def parse_atom():
        nonlocal pos
        if pos >= len(toks):
            raise ValueError("truncated expression")
        t = toks[pos]; pos += 1
        if t == "(":
            v = parse_or()
            if pos >= len(toks) or toks[pos] != ")":
                raise ValueError("unbalanced parentheses")
            pos += 1
            return v
        return t.rstrip("+") in allow
    try:
        v = parse_or()
        return v and pos == len(toks)
    except ValueError:
        return False

rows, bad = [], []
for i in sorted(everything - workspace, key=lambda i: (pkgs[i]["name"], pkgs[i]["version"])):
    p = pkgs[i]
    lic = p.get("license")
    if not lic:
        bad.append(f"{p['name']} {p['version']}: no SPDX license field (license-file: {p.get('license_file')})")
        lic = "(none)"
    elif not satisfiable(lic):
        bad.append(f"{p['name']} {p['version']}: {lic}")
    rows.append((p["name"], p["version"], lic, "linked" if i in linked else "build-time", p.get("repository") or ""))

if bad:
    print("licenses.sh: licenses outside the allow-list (scripts/licenses.sh ALLOW):", file=sys.stderr)
    for b in bad:
        print("  " + b, file=sys.stderr)
    sys.exit(1)

from collections import Counter
summary = Counter(r[2] for r in rows if r[3] == "linked")
print(f"licenses.sh: {len(rows)} third-party crates ({sum(summary.values())} linked), all within the allow-list",
      file=sys.stderr)
if check == "1":
    sys.exit(0)

with open(out, "w") as f:
    f.write(f"# Third-party licenses — Confirma SDK {version}\n\n")
    f.write("The Confirma SDK is licensed under the Apache License 2.0 (see `LICENSE`). Its native libraries "
            "(the Python extension, the Node.js addon, the Kotlin/JVM library, the `confirma-sandbox` and "
            "`confirma` binaries) contain the Rust crates listed below, for target "
            f"`{target}`. \"linked\" crates are compiled into the "
            "libraries; \"build-time\" crates (build scripts, procedural macros) run during the build only.\n\n")
    f.write("SQLite (bundled through `libsqlite3-sys`) is in the public domain. The *ring* crate contains code "
            "under ISC-style and OpenSSL/SSLeay-derived terms; see its LICENSE file.\n\n")
    f.write("## Summary (linked crates)\n\n| License | Crates |\n|---|---|\n")
    for lic, n in summary.most_common():
        f.write(f"| {lic} | {n} |\n")
    f.write("\n## Crates\n\n| Crate | Version | License | Use | Repository |\n|---|---|---|---|---|\n")
    for name, ver, lic, use, repo in rows:
        f.write(f"| {name} | {ver} | {lic} | {use} | {repo} |\n")
print(f"licenses.sh: wrote {out}", file=sys.stderr)
PY

[ $check = 1 ] && exit 0
[ $full = 1 ] || exit 0

# Full license texts through cargo-about (crates.io), cached in target/tools.
about="$ROOT/target/tools/bin/cargo-about"
if [ ! -x "$about" ]; then
    echo "licenses.sh: installing cargo-about from crates.io into target/tools (one-off, several minutes)" >&2
    (unset CARGO_BUILD_TARGET; CARGO_TARGET_DIR="$ROOT/target/tools/build" \
        cargo install --locked --quiet cargo-about --features cli --root "$ROOT/target/tools")
fi
texts=$(mktemp)
trap 'rm -f "$meta" "$texts"' EXIT
manifests=()
for crate in core sandbox cli bindings-python bindings-node bindings-kotlin/rust; do
    manifests+=("$crate/Cargo.toml")
done
{
    echo
    echo "## License texts (cargo-about)"
    echo
    for mf in "${manifests[@]}"; do
        "$about" generate --offline --locked --fail -c "$ROOT/scripts/about/about.toml" \
            --manifest-path "$ROOT/$mf" --target "$CARGO_BUILD_TARGET" "$ROOT/scripts/about/about.hbs"
    done | python3 -c '
import sys
# Each manifest renders the texts of its own graph: merge them, one block per (license, text), with the
# crates that use it.
blocks = {}
for chunk in sys.stdin.read().split("@@LICENSE@@ ")[1:]:
    head, _, text = chunk.partition("\n@@TEXT@@\n")
    lic, _, used = head.partition("\n@@USED@@ ")
    entry = blocks.setdefault((lic.strip(), text.strip()), set())
    entry.update(u for u in used.strip().split(", ") if u)
for (lic, text), used in sorted(blocks.items()):
    print("### " + lic + "\n\nUsed by: " + ", ".join(sorted(used)) + "\n\n```\n" + text + "\n```\n")'
} >"$texts"
cat "$texts" >>"$out"
echo "licenses.sh: appended the cargo-about license texts to $out" >&2
