#!/usr/bin/env bash
# Builds the two npm packages of the Node binding in the napi-rs platform-package layout and checks them:
#
#   confirma-sdk                 the JavaScript API + the loader (native.js), no native code; it lists
#                                confirma-sdk-linux-x64-gnu (same version) in optionalDependencies
#   confirma-sdk-linux-x64-gnu   the addon confirma.linux-x64-gnu.node (os/cpu/libc: linux/x64/glibc)
#
#   bash bindings-node/scripts/package.sh [--quick] OUTDIR     (OUTDIR: absolute path)
#
# Full form (release build): npm pack of both into OUTDIR, their contents checked, `npm publish --dry-run`
# of both, the loader checked with the platform package absent (the error names it) and on an unsupported
# platform, then both published to a throwaway local registry (verdaccio on loopback, its own storage and
# a throwaway user), `npm install confirma-sdk` from it into a scratch project (npm picks the platform
# package through optionalDependencies) and the binding's test suite run from that install against the
# sandbox. --quick (for ./scripts/test): reuses the debug addon of bindings-node/ when it is there, and
# stops after the loader checks (no registry, no test suite). Writes OUTDIR/manifest.txt.
# The version is the workspace's (scripts/version): the committed package.json files must carry it.
set -euo pipefail
QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; shift; fi
OUT=${1:?usage: package.sh [--quick] OUTDIR}
case "$OUT" in /*) ;; *) echo "package.sh: OUTDIR must be an absolute path" >&2; exit 2 ;; esac
cd "$(dirname "$0")/../.."
ROOT=$PWD
PKG=$ROOT/bindings-node
TARGET=x86_64-unknown-linux-gnu
PLATFORM=linux-x64-gnu
NAME=confirma-sdk
PNAME=$NAME-$PLATFORM
ADDON=confirma.$PLATFORM.node
export CARGO_BUILD_TARGET=$TARGET CARGO_TERM_COLOR=never CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
T0=$(date +%s)
log() { echo "== [$(date +%H:%M:%S)] node package: $*" >&2; }
fail() { echo "package.sh (node): FAILED: $*" >&2; exit 1; }

# ------------------------------------------------------------------ the version (one source: Cargo.toml)
VERSION=$("$ROOT/scripts/version") || fail "scripts/version found no workspace version"
for f in "$PKG/package.json" "$PKG/npm/$PLATFORM/package.json"; do
    v=$(node -p "require('$f').version")
    [ "$v" = "$VERSION" ] || fail "version drift: ${f#"$ROOT"/} has $v, the workspace has $VERSION"
done
log "version $VERSION ($([ $QUICK = 1 ] && echo quick || echo full))"

mkdir -p "$OUT"
WORK=$ROOT/target/node-package; [ $QUICK = 1 ] && WORK=$WORK-quick
rm -rf "$WORK" && mkdir -p "$WORK"
STAGE_MAIN=$WORK/$NAME
STAGE_PLAT=$WORK/$PNAME
mkdir -p "$STAGE_MAIN" "$STAGE_PLAT"

# ------------------------------------------------------------------ the addon + the generated loader
if [ ! -x "$PKG/node_modules/.bin/napi" ]; then
    log "npm ci (build tools)"
    (cd "$PKG" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp -r "$PKG/lib" "$PKG/package.json" "$PKG/README.md" "$STAGE_MAIN/"
if [ $QUICK = 1 ] && [ -f "$PKG/$ADDON" ] && [ -f "$PKG/native.js" ] && [ -f "$PKG/native.d.ts" ]; then
    log "reusing bindings-node/$ADDON, native.js, native.d.ts (from the last napi build)"
    cp "$PKG/native.js" "$PKG/native.d.ts" "$PKG/$ADDON" "$STAGE_MAIN/"
    PROFILE=reused
else
    flags=(--release); PROFILE=release
    [ $QUICK = 1 ] && { flags=(); PROFILE=debug; }
    log "napi build ($PROFILE, $TARGET)"
    t=$(date +%s)
    (cd "$STAGE_MAIN" && "$PKG/node_modules/.bin/napi" build --platform --target "$TARGET" \
        --manifest-path "$PKG/Cargo.toml" --package-json-path "$STAGE_MAIN/package.json" \
        --output-dir "$STAGE_MAIN" --js native.js --dts native.d.ts ${flags[@]+"${flags[@]}"}) >&2
    log "napi build took $(( $(date +%s) - t )) s"
fi
for f in native.js native.d.ts "$ADDON"; do [ -f "$STAGE_MAIN/$f" ] || fail "napi build did not produce $f"; done
mv "$STAGE_MAIN/$ADDON" "$STAGE_PLAT/$ADDON"
grep -q "require('$PNAME')" "$STAGE_MAIN/native.js" || fail "native.js does not load the platform package $PNAME"
file -L "$STAGE_PLAT/$ADDON" | grep -q 'ELF 64-bit LSB shared object, x86-64' || fail "$ADDON is not an x86-64 ELF shared object"

# ------------------------------------------------------------------ the two package.json files + licenses
cp "$PKG/npm/$PLATFORM/package.json" "$PKG/npm/$PLATFORM/README.md" "$STAGE_PLAT/"
# The main package as published: its optionalDependencies name every platform package at this exact
# version (what `napi prepublish` writes); the development scripts are not part of it.
node -e "
const fs = require('fs'); const p = '$STAGE_MAIN/package.json'; const d = JSON.parse(fs.readFileSync(p))
const plat = require('$STAGE_PLAT/package.json')
d.optionalDependencies = { [plat.name]: '$VERSION' }
delete d.scripts
fs.writeFileSync(p, JSON.stringify(d, null, 2) + '\n')
"
[ -f "$ROOT/LICENSE" ] || fail "no LICENSE at the repository root"
cp "$ROOT/LICENSE" "$STAGE_MAIN/LICENSE"; cp "$ROOT/LICENSE" "$STAGE_PLAT/LICENSE"
# The third-party license report (scripts/licenses.sh; under scripts/release, the release's full report).
log "third-party license report (scripts/licenses.sh)"
"$ROOT/scripts/licenses.sh" "$WORK/LICENSE-THIRD-PARTY.md" >&2 || fail "scripts/licenses.sh"
[ -s "$WORK/LICENSE-THIRD-PARTY.md" ] || fail "the third-party license report is empty"
cp "$WORK/LICENSE-THIRD-PARTY.md" "$STAGE_MAIN/"; cp "$WORK/LICENSE-THIRD-PARTY.md" "$STAGE_PLAT/"

# ------------------------------------------------------------------ npm pack + contents
rm -f "$OUT/$NAME-$VERSION.tgz" "$OUT/$PNAME-$VERSION.tgz"
pack() { (cd "$1" && npm pack --json --pack-destination "$OUT" 2>/dev/null) > "$WORK/$2.pack.json"; }
pack "$STAGE_PLAT" "$PNAME"
pack "$STAGE_MAIN" "$NAME"
MAIN_TGZ=$OUT/$NAME-$VERSION.tgz
PLAT_TGZ=$OUT/$PNAME-$VERSION.tgz
[ -f "$MAIN_TGZ" ] && [ -f "$PLAT_TGZ" ] || fail "npm pack did not write both tarballs"
node - "$WORK/$NAME.pack.json" "$WORK/$PNAME.pack.json" "$ADDON" <<'JS' >&2
const [mainJson, platJson, addon] = process.argv.slice(2)
const read = (f) => JSON.parse(require('fs').readFileSync(f))[0]
const problems = []
const check = (pack, must, mustNot) => {
  const files = pack.files.map((f) => f.path)
  for (const f of must) if (!files.includes(f)) problems.push(`${pack.name}: ${f} missing`)
  for (const re of mustNot) for (const f of files) if (re.test(f)) problems.push(`${pack.name}: ${f} must not ship`)
  console.log(`${pack.filename}: ${pack.files.length} files, ${pack.size} bytes packed, ${pack.unpackedSize} unpacked`)
}
const lic = ['LICENSE', 'LICENSE-THIRD-PARTY.md']
check(read(mainJson), ['package.json', 'README.md', 'native.js', 'native.d.ts', 'lib/index.js', 'lib/index.mjs',
  'lib/index.d.ts', 'lib/binding.js', ...lic], [/\.node$/, /^test\//, /^src\//, /Cargo/])
check(read(platJson), ['package.json', 'README.md', addon, ...lic], [/\.js$/])
if (problems.length) { console.error(problems.join('\n')); process.exit(1) }
JS
printf 'npm\t%s\nnpm\t%s\n' "$NAME-$VERSION.tgz" "$PNAME-$VERSION.tgz" > "$OUT/manifest.txt"
log "packed: $(stat -c %s "$MAIN_TGZ") B $(basename "$MAIN_TGZ"), $(stat -c %s "$PLAT_TGZ") B $(basename "$PLAT_TGZ") (addon $PROFILE, $(stat -c %s "$STAGE_PLAT/$ADDON") B unpacked)"

# ------------------------------------------------------------------ npm publish --dry-run (both)
for tgz in "$PLAT_TGZ" "$MAIN_TGZ"; do
    log "npm publish --dry-run $(basename "$tgz")"
    npm publish --dry-run --loglevel=warn "$tgz" >"$WORK/publish-dry-run.log" 2>&1 \
        || { cat "$WORK/publish-dry-run.log" >&2; fail "npm publish --dry-run $(basename "$tgz")"; }
done

# ------------------------------------------------------------------ the loader, installed by hand from the tarballs
# A project with the main package only (what --omit=optional or another platform gives): require() must
# fail naming the platform package; on an unsupported platform it must say so, naming the package that
# does not exist; with the platform package beside it, the addon loads.
LOADER=$WORK/loader-check
mkdir -p "$LOADER/node_modules/$NAME" "$LOADER/node_modules/$PNAME"
tar -xzf "$MAIN_TGZ" -C "$LOADER/node_modules/$NAME" --strip-components=1
log "loader: platform package absent"
if msg=$(cd "$LOADER" && node -e "require('$NAME')" 2>&1); then fail "require('$NAME') succeeded without $PNAME"; fi
echo "$msg" | grep -q "platform package $PNAME@$VERSION is missing" \
    || { echo "$msg" >&2; fail "the load error does not name $PNAME@$VERSION"; }
echo "$msg" | grep -m1 "$NAME:" >&2
log "loader: unsupported platform (process.platform = freebsd)"
if msg=$(cd "$LOADER" && node -e "Object.defineProperty(process, 'platform', { value: 'freebsd' }); require('$NAME')" 2>&1); then
    fail "require('$NAME') succeeded on a pretended freebsd"
fi
echo "$msg" | grep -q "not supported: there is no platform package $NAME-freebsd-x64" \
    || { echo "$msg" >&2; fail "the unsupported-platform error does not name $NAME-freebsd-x64"; }
echo "$msg" | grep -m1 "$NAME:" >&2
log "loader: platform package present"
tar -xzf "$PLAT_TGZ" -C "$LOADER/node_modules/$PNAME" --strip-components=1
(cd "$LOADER" && node -e "
const sdk = require('$NAME')
const resolved = require.resolve('$PNAME')
if (typeof sdk.OnboardingClient !== 'function' || sdk.VERSION !== '$VERSION') throw new Error('bad exports')
console.log('loaded ' + require('path').relative(process.cwd(), resolved) + ', VERSION ' + sdk.VERSION)
") >&2

if [ $QUICK = 1 ]; then
    log "quick checks passed in $(( $(date +%s) - T0 )) s"
    exit 0
fi

# ------------------------------------------------------------------ a local registry: verdaccio on loopback
TOOLS=$ROOT/target/tools/verdaccio
if [ ! -x "$TOOLS/node_modules/.bin/verdaccio" ]; then
    log "installing verdaccio 6.8.0 into target/tools/verdaccio (cached)"
    # 6.8.0 (6.10 wants Node 22); its node-fetch pinned to 2.7.0 so it installs on Node 20.
    mkdir -p "$TOOLS"
    echo '{ "private": true, "dependencies": { "verdaccio": "6.8.0" }, "overrides": { "node-fetch": "2.7.0" } }' > "$TOOLS/package.json"
    (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error) >&2
fi
REG=$WORK/registry
mkdir -p "$REG/storage"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/
UPLINK=$(npm config get registry)
cat > "$REG/config.yaml" <<YAML
storage: $REG/storage
max_body_size: 200mb
auth:
  htpasswd:
    file: $REG/htpasswd
    max_users: 1
uplinks:
  npmjs:
    url: $UPLINK
packages:
  '$NAME':
    access: \$all
    publish: \$authenticated
  '$NAME-*':
    access: \$all
    publish: \$authenticated
  '**':
    access: \$all
    proxy: npmjs
log: { type: file, path: $REG/verdaccio.log, level: warn }
YAML
log "verdaccio on $URL (storage and users under target/node-package/registry)"
"$TOOLS/node_modules/.bin/verdaccio" --config "$REG/config.yaml" --listen "127.0.0.1:$PORT" >"$REG/stdout.log" 2>&1 &
VPID=$!
cleanup() { kill "$VPID" 2>/dev/null || true; wait "$VPID" 2>/dev/null || true; rm -f "$REG/npmrc"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fsS "${URL}-/ping" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "${URL}-/ping" >/dev/null || { cat "$REG/stdout.log" >&2; fail "verdaccio did not start"; }

# A throwaway user and its token, in a throwaway npmrc (mode 600, removed on exit, never printed).
PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
TOKEN=$(curl -fsS -X PUT -H 'content-type: application/json' \
    -d "{\"name\":\"release-check\",\"password\":\"$PASS\"}" "${URL}-/user/org.couchdb.user:release-check" \
    | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>process.stdout.write(JSON.parse(s).token||''))")
[ -n "$TOKEN" ] || fail "verdaccio gave no token for the throwaway user"
(umask 077 && printf '//127.0.0.1:%s/:_authToken=%s\n' "$PORT" "$TOKEN" > "$REG/npmrc")
unset TOKEN PASS
for tgz in "$PLAT_TGZ" "$MAIN_TGZ"; do
    log "npm publish $(basename "$tgz") to the local registry"
    npm publish --registry "$URL" --userconfig "$REG/npmrc" --no-update-notifier --loglevel=warn "$tgz" >&2
done
rm -f "$REG/npmrc"

# ------------------------------------------------------------------ install from the registry, run the suite
SCRATCH=$WORK/scratch
mkdir -p "$SCRATCH"
cp -r "$PKG/test" "$SCRATCH/test"
cp -r "$ROOT/examples/node" "$SCRATCH/examples"
cd "$SCRATCH"
echo '{ "name": "confirma-sdk-registry-check", "private": true, "version": "0.0.0" }' > package.json
TS_VERSION=$(node -p "require('$PKG/package.json').devDependencies.typescript")
TYPES_NODE_VERSION=$(node -p "require('$PKG/package.json').devDependencies['@types/node']")
log "npm install $NAME@$VERSION --registry $URL (a fresh npm cache)"
t=$(date +%s)
npm install --registry "$URL" --userconfig /dev/null --no-update-notifier --cache "$WORK/npm-cache" --no-audit --no-fund --loglevel=error \
    "$NAME@$VERSION" "typescript@$TS_VERSION" "@types/node@$TYPES_NODE_VERSION" >&2
log "npm install took $(( $(date +%s) - t )) s"
node -e "
const lock = require('./package-lock.json').packages
const main = lock['node_modules/$NAME'], plat = lock['node_modules/$PNAME']
if (!main || !plat) throw new Error('the lockfile lacks $NAME or $PNAME')
for (const [n, p] of [['$NAME', main], ['$PNAME', plat]]) {
  if (!p.resolved.startsWith('$URL')) throw new Error(n + ' did not come from the local registry: ' + p.resolved)
  if (p.version !== '$VERSION') throw new Error(n + ' is ' + p.version)
}
if (!plat.optional) throw new Error('$PNAME was not installed as an optional dependency')
const fs = require('fs')
if (fs.readdirSync('node_modules/$NAME').some((f) => f.endsWith('.node'))) throw new Error('a .node file in the main package')
console.log('installed from the registry: $NAME@' + main.version + ' + $PNAME@' + plat.version + ' (optional), resolved by npm')
" >&2

export CONFIRMA_SANDBOX_BIN=${CONFIRMA_SANDBOX_BIN:-$ROOT/target/$TARGET/debug/confirma-sandbox}
if [ ! -x "$CONFIRMA_SANDBOX_BIN" ]; then
    log "building the sandbox"
    (cd "$ROOT" && cargo build -p confirma-sandbox --bin confirma-sandbox --target "$TARGET") >&2
fi
export CONFIRMA_REPO_ROOT=$ROOT
log "node --test (the binding's suite, from the registry install)"
t=$(date +%s)
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    "$ROOT/scripts/postgres.sh" run -- node --test test/*.test.mjs >&2
else
    log "(PostgreSQL not installed: the PostgresStore test is skipped)"
    node --test test/*.test.mjs >&2
fi
log "suite passed in $(( $(date +%s) - t )) s; all checks passed in $(( $(date +%s) - T0 )) s"
