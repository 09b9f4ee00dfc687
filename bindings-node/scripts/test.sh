#!/usr/bin/env bash
# Builds the Node binding, packs it, installs the tarball into a scratch project the way a user would,
# and runs the whole `node --test` suite against the installed package and the real sandbox.
#
#   bash bindings-node/scripts/test.sh            # from the repo root
#   bash bindings-node/scripts/test.sh --release  # optimized addon (slower to build)
#
# Needs: Rust (cargo), Node.js >= 18.17 with npm. Everything else comes from npm / crates.io.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PKG=$ROOT/bindings-node
TARGET=x86_64-unknown-linux-gnu
PROFILE=debug
BUILD_FLAGS=()
if [ "${1:-}" = "--release" ]; then PROFILE=release; BUILD_FLAGS=(--release); fi
stamp() { date +%H:%M:%S; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "== [$(stamp)] node/npm not found: installing from Debian packages"
    apt-get update -qq && apt-get install -y -qq nodejs npm
fi
echo "== [$(stamp)] node $(node --version), npm $(npm --version)"

export CONFIRMA_SANDBOX_BIN=${CONFIRMA_SANDBOX_BIN:-$ROOT/target/$TARGET/debug/confirma-sandbox}
if [ ! -x "$CONFIRMA_SANDBOX_BIN" ]; then
    echo "== [$(stamp)] building the sandbox"
    cargo build -p confirma-sandbox --bin confirma-sandbox --target "$TARGET"
fi

echo "== [$(stamp)] npm ci (build tools: @napi-rs/cli, typescript)"
cd "$PKG"
npm ci --no-audit --no-fund --loglevel=error

echo "== [$(stamp)] napi build ($PROFILE, $TARGET)"
rm -f "$PKG"/*.node
npx --no-install napi build --platform --target "$TARGET" --js native.js --dts native.d.ts "${BUILD_FLAGS[@]}"

echo "== [$(stamp)] npm pack (confirma-sdk + the platform package confirma-sdk-linux-x64-gnu holding the addon)"
PACK_DIR=$ROOT/target/node-pack
rm -rf "$PACK_DIR" && mkdir -p "$PACK_DIR"
TARBALL=$PACK_DIR/$(npm pack --silent --pack-destination "$PACK_DIR" | tail -n1)
PLAT_STAGE=$PACK_DIR/linux-x64-gnu
mkdir -p "$PLAT_STAGE"
cp "$PKG"/npm/linux-x64-gnu/package.json "$PKG"/npm/linux-x64-gnu/README.md "$PKG"/confirma.linux-x64-gnu.node "$PLAT_STAGE/"
PLAT_TARBALL=$PACK_DIR/$(cd "$PLAT_STAGE" && npm pack --silent --pack-destination "$PACK_DIR" | tail -n1)
ls -l "$TARBALL" "$PLAT_TARBALL"

echo "== [$(stamp)] installing the tarball into a scratch project"
SCRATCH=$ROOT/target/node-scratch
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
cp -r "$PKG/test" "$SCRATCH/test"
cp -r "$ROOT/examples/node" "$SCRATCH/examples"
cd "$SCRATCH"
cat > package.json <<'JSON'
{ "name": "confirma-sdk-test-project", "private": true, "version": "0.0.0" }
JSON
TS_VERSION=$(node -p "require('$PKG/package.json').devDependencies.typescript")
TYPES_NODE_VERSION=$(node -p "require('$PKG/package.json').devDependencies['@types/node']")
npm install --no-audit --no-fund --loglevel=error "$TARBALL" "$PLAT_TARBALL" "typescript@$TS_VERSION" "@types/node@$TYPES_NODE_VERSION"

echo "== [$(stamp)] figures"
ADDON=$(ls "$SCRATCH"/node_modules/confirma-sdk-linux-x64-gnu/*.node)
echo "addon: $(basename "$ADDON") $(du -h "$ADDON" | cut -f1) ($(stat -c %s "$ADDON") bytes, $PROFILE)"
node -e "
const { performance } = require('node:perf_hooks')
const t0 = performance.now(); const sdk = require('confirma-sdk'); const t1 = performance.now()
const c = new sdk.OnboardingClient({ baseUrl: 'http://127.0.0.1:1', maxRetries: 0 }); const t2 = performance.now()
c.validateToken('').catch(() => { const t3 = performance.now()
  console.log('require(confirma-sdk): ' + (t1 - t0).toFixed(1) + ' ms; new OnboardingClient: ' + (t2 - t1).toFixed(1) + ' ms; first call (settled, no I/O): ' + (t3 - t2).toFixed(2) + ' ms') })
"

echo "== [$(stamp)] node --test"
export CONFIRMA_REPO_ROOT=$ROOT
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    # PostgreSQL is installed (the Rust section installs it): the PostgresStore test runs on a throwaway cluster.
    "$ROOT/scripts/postgres.sh" run -- node --test test/*.test.mjs
else
    echo "(PostgreSQL not installed: the PostgresStore lifecycle test is skipped; scripts/postgres.sh installs it)"
    node --test test/*.test.mjs
fi
echo "== [$(stamp)] node binding: all tests passed"
