#!/usr/bin/env bash
# The third-party license report for the native libraries we ship (the Python extension, the Node addon, the
# Kotlin/JNA library, the sandbox and CLI binaries, the `confirma` crate): every crate compiled into them, with
# its version, SPDX license expression and repository, checked against an allow-list.
#
#   scripts/licenses.sh OUTFILE          # Markdown report (cargo metadata + allow-list); fails on a license
#                                        # outside the allow-list or a crate without a license field
#   scripts/licenses.sh --check          # only the allow-list check, no file (the fast form for ./scripts/test)
#   scripts/licenses.sh --full OUTFILE   # the report above + the full license texts from cargo-about (one
#                                        # run over the workspace, ~1 min; cargo-about is installed from
#                                        # crates.io once per machine into ~/.cache/confirma-tools, ~10-16 min
#                                        # on 2 busy cores, so only scripts/release asks for it)
#   CONFIRMA_THIRD_PARTY_REPORT=F scripts/licenses.sh OUTFILE   # copies F (scripts/release's full report,
#                                        # one for every package) instead of writing a report
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
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "licenses.sh: unknown option $1" >&2; exit 2 ;;
        *) out=$1 ;;
    esac
    shift
done
if [ $check = 0 ] && [ -z "$out" ]; then
    echo "usage: scripts/licenses.sh [--full] OUTFILE | --check" >&2
    exit 2
fi
# scripts/release writes the full report once and hands it to every package in CONFIRMA_THIRD_PARTY_REPORT: the
# packaging scripts call this script either way, and get that same report instead of a new short form.
if [ $check = 0 ] && [ $full = 0 ] && [ -n "${CONFIRMA_THIRD_PARTY_REPORT:-}" ]; then
    echo "licenses.sh: the release's report $CONFIRMA_THIRD_PARTY_REPORT" >&2
    [ -s "$CONFIRMA_THIRD_PARTY_REPORT" ] || { echo "licenses.sh: no report at $CONFIRMA_THIRD_PARTY_REPORT" >&2; exit 1; }
    case "$out" in /*) ;; *) out=$ROOT/$out ;; esac
    cp "$CONFIRMA_THIRD_PARTY_REPORT" "$out"
    exit 0
fi

# The crates whose compiled code ends up in an artifact we publish.
ROOTS="confirma confirma-sandbox confirma-cli confirma-python confirma-node confirma-kotlin"
# SPDX identifiers we accept (permissive, or MPL-2.0's file-level copyleft: uniffi's runtime). An expression
# passes when its OR/AND structure can be satisfied with these.
ALLOW="Apache-2.0 MIT ISC BSD-2-Clause BSD-3-Clause Unicode-3.0 Unicode-DFS-2016 Zlib BSL-1.0 Unlicense CC0-1.0 MPL-2.0 Apache-2.0-WITH-LLVM-exception"

meta=$(mktemp)
shipped=$(mktemp)
trap 'rm -f "$meta" "$shipped"' EXIT
cargo metadata --locked --format-version 1 --filter-platform "$CARGO_BUILD_TARGET" >"$meta"

version=$("$ROOT/scripts/version" 2>/dev/null || echo unknown)
python3 - "$meta" "$check" "${out:-}" "$version" "$ROOTS" "$ALLOW" "$CARGO_BUILD_TARGET" "$shipped" <<'PY'
import json, re, sys
meta_path, check, out, version, roots, allow, target, shipped_path = sys.argv[1:9]
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

with open(shipped_path, "w") as f:
    for name, ver, *_ in rows:
        f.write(f"crate {name} {ver}\n")
    for i in workspace:
        f.write(f"workspace {pkgs[i]['name']} {pkgs[i]['version']}\n")

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

# Full license texts through cargo-about (crates.io), one run over the whole workspace.
# The binary is cached per machine, keyed by its version, outside any checkout (a fresh clone finds it):
# ${CONFIRMA_TOOLS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/confirma-tools}/cargo-about-<version>/bin/cargo-about; a
# cargo-about of that version on PATH is used as it is.
ABOUT_VERSION=0.9.3
about=
if command -v cargo-about >/dev/null 2>&1 && [ "$(cargo-about --version 2>/dev/null)" = "cargo-about $ABOUT_VERSION" ]; then
    about=$(command -v cargo-about)
else
    cache=${CONFIRMA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/confirma-tools}/cargo-about-$ABOUT_VERSION
    about=$cache/bin/cargo-about
    if [ ! -x "$about" ]; then
        mkdir -p "$(dirname "$cache")"
        # One install at a time per machine: a second run waits for the first and then finds the binary.
        exec 9>"$cache.lock"
        flock 9
        if [ ! -x "$about" ]; then
            echo "licenses.sh: installing cargo-about $ABOUT_VERSION from crates.io into $cache (once per machine; ~10-16 min on 2 busy cores)" >&2
            ti=$(date +%s)
            build=$(mktemp -d)
            (unset CARGO_BUILD_TARGET; CARGO_TARGET_DIR="$build" \
                cargo install --locked --quiet "cargo-about@$ABOUT_VERSION" --features cli --root "$cache") \
                || { rm -rf "$build"; echo "licenses.sh: cargo install cargo-about failed" >&2; exit 1; }
            rm -rf "$build"
            echo "licenses.sh: cargo-about installed in $(( $(date +%s) - ti )) s" >&2
        fi
        exec 9>&-
    fi
fi
echo "licenses.sh: cargo-about: $about" >&2

# cargo-about's output depends only on the lockfile (crate sources are immutable per version and checksum), the
# manifests (features), its configuration, its version and the target: cached per machine under that key, so a
# second release (or a fresh clone) with the same inputs reuses it.
key=$( { echo "cargo-about $ABOUT_VERSION $CARGO_BUILD_TARGET"; cat Cargo.lock scripts/about/about.toml scripts/about/about.hbs;
         git ls-files -z -- 'Cargo.toml' '*/Cargo.toml' 2>/dev/null | xargs -0 cat 2>/dev/null || find . -name Cargo.toml -not -path './target/*' -exec cat {} +; } \
       | sha256sum | cut -c1-32)
raw_cache=${CONFIRMA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/confirma-tools}/about-output/$key.txt
texts=$(mktemp)
raw=$(mktemp)
trap 'rm -f "$meta" "$texts" "$shipped" "$raw"' EXIT
ta=$(date +%s)
if [ -s "$raw_cache" ]; then
    cp "$raw_cache" "$raw"
    echo "licenses.sh: cargo-about output for these inputs cached: $raw_cache" >&2
else
    # One run over the whole workspace (it also holds crates we do not ship: uniffi-bindgen, bench; their
    # licenses' users are filtered below to the crates the report above lists). Every file of every crate is
    # scanned (no max-depth): vendored code's notices (e.g. ring's per-file ISC headers, tracing-core's
    # vendored spin) live below the crate root; that scan is ~90 s of CPU.
    "$about" generate --offline --locked --fail --workspace -c "$ROOT/scripts/about/about.toml" \
        --manifest-path "$ROOT/Cargo.toml" --target "$CARGO_BUILD_TARGET" "$ROOT/scripts/about/about.hbs" >"$raw"
    mkdir -p "$(dirname "$raw_cache")"
    cp "$raw" "$raw_cache.$$" && mv "$raw_cache.$$" "$raw_cache"
fi
python3 - "$shipped" "$raw" >"$texts" <<'PY'
import sys
crates, workspace = set(), set()
for line in open(sys.argv[1]):
    kind, _, rest = line.strip().partition(" ")
    (crates if kind == "crate" else workspace).add(rest)
# One block per (license, text), with the shipped crates that use it.
blocks, reached = {}, set()
for chunk in open(sys.argv[2]).read().split("@@LICENSE@@ ")[1:]:
    head, _, text = chunk.partition("\n@@TEXT@@\n")
    lic, _, used = head.partition("\n@@USED@@ ")
    users = {u for u in used.strip().split(", ") if u}
    reached |= users
    users &= crates
    if users:
        blocks.setdefault((lic.strip(), text.strip()), set()).update(users)
unknown = reached - crates - workspace
if unknown:
    # cargo-about sees a crate the allow-list check above did not: never ship texts for an unchecked graph.
    print("licenses.sh: cargo-about reached crates the report does not list: " + ", ".join(sorted(unknown)), file=sys.stderr)
    sys.exit(1)
print("\n## License texts (cargo-about)\n")
unreached = sorted(crates - reached)
if unreached:
    # cargo metadata resolves features once for the whole workspace (development dependencies included);
    # cargo-about, like cargo building each library on its own, does not reach these.
    print("Listed in the table above but compiled into none of the libraries (Cargo.lock's workspace-wide "
          "feature resolution, e.g. through development dependencies, includes them; each library built on its own "
          "does not): " + ", ".join(unreached) + ".\n")
for (lic, text), used in sorted(blocks.items()):
    print("### " + lic + "\n\nUsed by: " + ", ".join(sorted(used)) + "\n\n```\n" + text + "\n```\n")
print(f"licenses.sh: cargo-about: {len(blocks)} license texts for {len(reached & crates)} crates "
      f"({len(unreached)} listed crates not compiled in)", file=sys.stderr)
PY
cat "$texts" >>"$out"
echo "licenses.sh: appended the cargo-about license texts to $out ($(( $(date +%s) - ta )) s)" >&2
