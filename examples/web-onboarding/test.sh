#!/usr/bin/env bash
# The web onboarding example's browser tests: builds what ./run needs (the sandbox, the Node binding's addon,
# this example's npm packages), installs Debian's chromium when it is absent, and runs test/*.test.mjs
# (playwright-core driving /usr/bin/chromium headless; Playwright never downloads a browser).
#
#   bash examples/web-onboarding/test.sh          # from the repo root (./scripts/test web runs it)
#
# Screenshots of each state: target/web-onboarding/*.png.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TARGET=x86_64-unknown-linux-gnu
export CARGO_BUILD_TARGET=$TARGET CARGO_TERM_COLOR=never CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
stamp() { date +%H:%M:%S; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "== [$(stamp)] node/npm not found: installing from Debian packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM_BIN" ]; then
    echo "== [$(stamp)] chromium not found: installing Debian's chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
export CHROMIUM_BIN
echo "== [$(stamp)] node $(node --version), $("$CHROMIUM_BIN" --version 2>/dev/null | head -n1)"

export CONFIRMA_SANDBOX_BIN=${CONFIRMA_SANDBOX_BIN:-$ROOT/target/$TARGET/debug/confirma-sandbox}
if [ ! -x "$CONFIRMA_SANDBOX_BIN" ]; then
    echo "== [$(stamp)] building the sandbox"
    (cd "$ROOT" && cargo build -p confirma-sandbox --bin confirma-sandbox --target "$TARGET")
fi

echo "== [$(stamp)] the Node binding's addon (napi build, debug; quick when it is up to date)"
cd "$ROOT/bindings-node"
[ -d node_modules/@napi-rs/cli ] || npm ci --no-audit --no-fund --loglevel=error
npx --no-install napi build --platform --target "$TARGET" --js native.js --dts native.d.ts

echo "== [$(stamp)] npm ci (fastify, playwright-core; confirma-sdk linked from bindings-node)"
cd "$HERE"
npm ci --no-audit --no-fund --loglevel=error

echo "== [$(stamp)] node --test (Chromium, headless)"
node --test test/
echo "== [$(stamp)] screenshots: $(ls "$ROOT"/target/web-onboarding/*.png | sed "s|$ROOT/||" | tr '\n' ' ')"
