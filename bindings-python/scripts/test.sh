#!/usr/bin/env bash
# Builds the confirma-sdk wheel, installs it into a fresh virtualenv the way a user would, and runs mypy
# --strict and the pytest suite against the real sandbox. Run from the repository root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TARGET=x86_64-unknown-linux-gnu
PY="${PYTHON:-python3}"
WORK="$ROOT/target/python"
VENV="$WORK/venv"
WHEELS="$WORK/wheels"

log() { printf '\n== %s\n' "$*"; }

log "fresh virtualenv ($("$PY" --version 2>&1)) in $VENV"
rm -rf "$VENV" "$WHEELS"
mkdir -p "$WORK"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "maturin>=1.9,<2" "pytest>=8" "pytest-timeout>=2.3" "mypy>=1.10"

log "maturin build (dev profile, --target $TARGET)"
"$VENV/bin/maturin" build --manifest-path bindings-python/Cargo.toml --profile dev -i "$VENV/bin/python" \
  --target "$TARGET" --out "$WHEELS" --compatibility off
WHEEL="$(ls "$WHEELS"/confirma_sdk-*.whl | head -n1)"
log "pip install $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1))"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"

if [[ -z "${CONFIRMA_SANDBOX_BIN:-}" ]]; then
  export CONFIRMA_SANDBOX_BIN="$ROOT/target/$TARGET/debug/confirma-sandbox"
  if [[ ! -x "$CONFIRMA_SANDBOX_BIN" ]]; then
    log "building the sandbox"
    cargo build -p confirma-sandbox --target "$TARGET"
  fi
fi
export CONFIRMA_REPO_ROOT="$ROOT"

# Run from a directory outside the source tree so bindings-python/python cannot shadow the installed wheel.
RUN="$WORK/run"
mkdir -p "$RUN"
cd "$RUN"

log "mypy --strict (examples + typed test module)"
"$VENV/bin/python" -m mypy --strict --no-incremental --cache-dir "$RUN/.mypy_cache" \
  "$ROOT/examples/python/onboard.py" "$ROOT/examples/python/token_service.py" \
  "$ROOT/examples/python/sqlite3_store.py" "$ROOT/bindings-python/tests/test_typed.py"

log "pytest"
PYTEST=("$VENV/bin/python" -m pytest "$ROOT/bindings-python/tests" -p no:cacheprovider --timeout 120 -q "$@")
if [[ -z "${CONFIRMA_TEST_POSTGRES_URL:-}" && "${CONFIRMA_PYTHON_POSTGRES:-1}" != 0 ]]; then
  # The PostgresStore tests run on a throwaway cluster (installed from Debian's packages when absent);
  # CONFIRMA_PYTHON_POSTGRES=0 skips them.
  "$ROOT/scripts/postgres.sh" run -- "${PYTEST[@]}"
else
  "${PYTEST[@]}"
fi
