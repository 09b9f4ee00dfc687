#!/usr/bin/env bash
# Builds the publishable Python artifacts of confirma-sdk into OUTDIR and checks them (issue 15).
#
#   bindings-python/scripts/package.sh [--quick] OUTDIR
#
# Full: a release manylinux wheel (maturin build --release --compatibility manylinux_2_34: maturin's own auditwheel
# check fails the build when the extension needs a newer glibc symbol or a non-manylinux library), the glibc symbol
# versions that decide the tag (objdump -T), an sdist, `twine check` on both, then the sdist built and installed from
# scratch in a fresh virtualenv (pip builds it with maturin + cargo) and smoke-tested against the real sandbox
# (create, validate, renew; plus the version and the license files in the installed metadata).
# --quick (for ./scripts/test): the sdist only (no compile), its contents and metadata checked, `twine check`.
# Writes OUTDIR/manifest.txt (`pypi<TAB>path`). Progress on stderr. Tools (maturin, twine) live in a venv under
# target/python/pkg-venv (from PyPI, cached).
set -euo pipefail
QUICK=0
if [ "${1:-}" = --quick ]; then QUICK=1; shift; fi
[ $# -eq 1 ] || { echo "usage: package.sh [--quick] OUTDIR" >&2; exit 2; }
OUT="$1"
case "$OUT" in /*) ;; *) echo "package.sh: OUTDIR must be absolute" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TRIPLE=x86_64-unknown-linux-gnu
export CARGO_BUILD_TARGET=$TRIPLE CARGO_TERM_COLOR=never
PY="${PYTHON:-python3}"
TOOLS="$ROOT/target/python/pkg-venv"
log() { printf '[python package %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
t0=$(date +%s)

# The single version: the workspace Cargo.toml (maturin reads it through version.workspace = true).
VERSION="$(scripts/version)" || fail "scripts/version found no workspace version"
log "confirma-sdk $VERSION -> $OUT"

[ -f LICENSE ] || fail "no LICENSE at the repository root"
[ "$(readlink bindings-python/LICENSE)" = ../LICENSE ] || fail "bindings-python/LICENSE must link to ../LICENSE"
# The third-party report for the native library (scripts/licenses.sh) ships as a license file.
REPORT=bindings-python/LICENSE-THIRD-PARTY.md
rm -f "$REPORT"
# The third-party license report (scripts/licenses.sh; under scripts/release, the release's full report).
log "third-party license report (scripts/licenses.sh)"
scripts/licenses.sh "$ROOT/$REPORT" >&2 || fail "scripts/licenses.sh"
[ -s "$REPORT" ] || fail "the third-party license report is empty"

if [ ! -x "$TOOLS/bin/maturin" ] || [ ! -x "$TOOLS/bin/twine" ]; then
    log "tools venv (maturin, twine from PyPI) in $TOOLS"
    rm -rf "$TOOLS"
    "$PY" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9,<2" "twine>=6.1"
fi

rm -rf "$OUT"
mkdir -p "$OUT"

# --- sdist (both modes) -------------------------------------------------------------------------------------
log "maturin sdist"
"$TOOLS/bin/maturin" sdist --manifest-path bindings-python/Cargo.toml --out "$OUT" >&2
SDIST="$(ls "$OUT"/confirma_sdk-"$VERSION".tar.gz 2>/dev/null)" || fail "no sdist confirma_sdk-$VERSION.tar.gz"
listing="$(tar -tzf "$SDIST")"
for f in PKG-INFO pyproject.toml LICENSE python/confirma/__init__.py python/confirma/py.typed \
         python/confirma/_native.pyi bindings-python/Cargo.toml core/Cargo.toml Cargo.lock; do
    grep -qx "confirma_sdk-$VERSION/$f" <<<"$listing" || fail "sdist lacks $f"
done
grep -q "^confirma_sdk-$VERSION/\(bindings-python/\)\?LICENSE-THIRD-PARTY.md$" <<<"$listing" || fail "sdist lacks the third-party report"
pkginfo="$(tar -xzOf "$SDIST" "confirma_sdk-$VERSION/PKG-INFO")"
for h in "Version: $VERSION" "License-Expression: Apache-2.0" "License-File: LICENSE" "Requires-Python: >=3.9" \
         "Project-URL: Repository, " "Classifier: Programming Language :: Rust" "Description-Content-Type: text/markdown"; do
    grep -qF "$h" <<<"$pkginfo" || fail "sdist PKG-INFO lacks '$h'"
done
# The LICENSE in the sdist is the file itself (the symlink resolved), not a dangling link.
[ "$(tar -xzOf "$SDIST" "confirma_sdk-$VERSION/LICENSE" | head -c 200 | grep -c 'Apache License')" -ge 1 ] \
    || fail "sdist LICENSE is not the Apache-2.0 text"

if [ "$QUICK" = 1 ]; then
    log "twine check (sdist)"
    "$TOOLS/bin/twine" check --strict "$SDIST" >&2
    printf 'pypi\t%s\n' "$(basename "$SDIST")" >"$OUT/manifest.txt"
    log "quick: ok ($(du -h "$SDIST" | cut -f1) sdist, $(( $(date +%s) - t0 )) s)"
    exit 0
fi

# --- manylinux wheel --------------------------------------------------------------------------------------------
# manylinux_2_34: the oldest tag this machine's glibc (2.36) allows; manylinux_2_28 fails the auditwheel check here
# (the .so needs GLIBC_2.29..2.34 symbols, see wheel-glibc.txt) and needs a manylinux_2_28 build container.
MANYLINUX="${CONFIRMA_MANYLINUX:-manylinux_2_34}"
log "maturin build --release --compatibility $MANYLINUX (auditwheel check by maturin)"
tw=$(date +%s)
"$TOOLS/bin/maturin" build --release --manifest-path bindings-python/Cargo.toml --target "$TRIPLE" \
    --compatibility "$MANYLINUX" --auditwheel check -i "$PY" --out "$OUT" >&2 || fail "maturin build ($MANYLINUX)"
WHEEL="$(ls "$OUT"/confirma_sdk-"$VERSION"-*.whl)"
log "wheel built in $(( $(date +%s) - tw )) s: $(basename "$WHEEL")"
case "$(basename "$WHEEL")" in *-cp39-abi3-"$MANYLINUX"_x86_64.whl) ;; *) fail "unexpected wheel tag: $(basename "$WHEEL")" ;; esac
wl="$(unzip -Z1 "$WHEEL")"
for f in "confirma_sdk-$VERSION.dist-info/licenses/LICENSE" confirma/__init__.py confirma/py.typed confirma/_native.pyi; do
    grep -qx "$f" <<<"$wl" || fail "wheel lacks $f"
done
grep -qx "confirma_sdk-$VERSION.dist-info/licenses/LICENSE-THIRD-PARTY.md" <<<"$wl" || fail "wheel lacks the third-party report"
# The glibc symbol versions the extension needs: the newest one decides the manylinux tag.
SO_TMP="$(mktemp -d)"
trap 'rm -rf "$SO_TMP"' EXIT
unzip -q -o "$WHEEL" 'confirma/_native*.so' -d "$SO_TMP"
SO="$(ls "$SO_TMP"/confirma/_native*.so)"
{
    echo "glibc symbol versions required by $(basename "$SO") (objdump -T), newest last:"
    objdump -T "$SO" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | while read -r v; do
        printf '  %-12s %s\n' "$v" "$(objdump -T "$SO" | awk -v v="$v" '$0 ~ v" " || $0 ~ "\\("v"\\)" {print $NF}' | sort -u | head -n6 | tr '\n' ' ')"
    done
    echo "other shared libraries (NEEDED): $(objdump -p "$SO" | awk '/NEEDED/{print $2}' | tr '\n' ' ')"
} | tee "$OUT/wheel-glibc.txt" >&2

log "twine check --strict (wheel + sdist)"
"$TOOLS/bin/twine" check --strict "$WHEEL" "$SDIST" >&2

# --- the sdist from scratch, in a fresh virtualenv ---------------------------------------------------------------
VENV="$ROOT/target/python/sdist-venv"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
log "pip install the sdist into a fresh venv (pip builds it: maturin from PyPI + cargo)"
ts=$(date +%s)
# pip unpacks the sdist into a temporary directory and builds it there with cargo, into an empty cargo target dir
# (a build from scratch: ~4.5 min of CPU on this machine, longer when it is shared).
# CONFIRMA_SDIST_TARGET_DIR=<dir> reuses another target dir instead — e.g. the workspace's target/, where cargo
# finds the same sources (the sdist keeps their mtimes) already compiled and the "build" takes seconds.
SDIST_TARGET="${CONFIRMA_SDIST_TARGET_DIR:-$ROOT/target/python/sdist-cargo}"
[ -n "${CONFIRMA_SDIST_TARGET_DIR:-}" ] || rm -rf "$SDIST_TARGET"
CARGO_TARGET_DIR="$SDIST_TARGET" \
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-cache-dir "$SDIST" >&2 || fail "sdist install"
log "sdist built and installed in $(( $(date +%s) - ts )) s"

if [ -z "${CONFIRMA_SANDBOX_BIN:-}" ]; then
    CONFIRMA_SANDBOX_BIN="$ROOT/target/$TRIPLE/debug/confirma-sandbox"
    [ -x "$CONFIRMA_SANDBOX_BIN" ] || cargo build --quiet -p confirma-sandbox --target "$TRIPLE"
fi
log "smoke test of the installed sdist against the sandbox"
SMOKE="$(mktemp -d)"
trap 'rm -rf "$SO_TMP" "$SMOKE"' EXIT
(cd "$SMOKE" && CONFIRMA_SANDBOX_BIN="$CONFIRMA_SANDBOX_BIN" EXPECT_VERSION="$VERSION" EXAMPLE="$ROOT/examples/python/onboard.py" \
    "$VENV/bin/python" - <<'PY') >&2 || fail "smoke test"
# The installed distribution's metadata, then the Python example (create, validate, renew) against a fresh sandbox.
import json, os, subprocess, sys, importlib.metadata as md
import confirma
assert "site-packages" in confirma.__file__, confirma.__file__
dist = md.distribution("confirma-sdk")
assert dist.version == os.environ["EXPECT_VERSION"], dist.version
assert dist.metadata["License-Expression"] == "Apache-2.0", dist.metadata["License-Expression"]
files = {str(f) for f in dist.files or []}
assert any(f.endswith("licenses/LICENSE") for f in files), sorted(files)
sb = subprocess.Popen([os.environ["CONFIRMA_SANDBOX_BIN"], "--host", "127.0.0.1", "--port", "0"],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    info = json.loads(sb.stdout.readline())
    r = subprocess.run([sys.executable, os.environ["EXAMPLE"], info["baseUrl"], info["provisioningToken"],
                        info["partnerCode"]], capture_output=True, text=True, timeout=120)
    sys.stderr.write(r.stdout + r.stderr)
    assert r.returncode == 0, r.returncode
    assert "renewed" in r.stdout, r.stdout
    print(f"smoke: {dist.name} {dist.version} from {os.path.dirname(confirma.__file__)}: examples/python/onboard.py ok")
finally:
    sb.terminate(); sb.wait()
PY

{
    printf 'pypi\t%s\n' "$(basename "$WHEEL")"
    printf 'pypi\t%s\n' "$(basename "$SDIST")"
} >"$OUT/manifest.txt"
log "ok in $(( $(date +%s) - t0 )) s: $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1)), $(basename "$SDIST") ($(du -h "$SDIST" | cut -f1))"
