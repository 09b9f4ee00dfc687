#!/usr/bin/env bash
# Builds the publishable Maven artifacts of com.confirmafinance:confirma-sdk into OUTDIR and checks them (issue 15).
#
#   bindings-kotlin/scripts/package.sh [--quick] OUTDIR
#
# Full: the release native library + generated bindings, `mvn -Prelease install` into a local repository under
# target/ (hermetic: a copy of ~/.m2 for the Maven Central cache, without any com/confirmafinance artifact), giving
# the main jar (native library at linux-x86-64/, META-INF/LICENSE + the third-party report), the sources jar and the
# javadoc jar (Dokka, Javadoc format); checks the jars' contents and the POM metadata Maven Central requires; then
# the consumer project (examples/kotlin, which depends on the SDK by coordinate only) resolves the SDK from that
# local repository, compiles and runs the onboarding example against a fresh sandbox. The four files are staged in
# Maven repository layout under OUTDIR/maven/ with .md5/.sha1 (a Central bundle would also need .asc signatures:
# there is no signing key here).
# --quick (for ./scripts/test): the version check and the POM metadata checks (no build).
# Writes OUTDIR/manifest.txt (`maven<TAB>path`). Progress on stderr.
set -euo pipefail
QUICK=0
if [ "${1:-}" = --quick ]; then QUICK=1; shift; fi
[ $# -eq 1 ] || { echo "usage: package.sh [--quick] OUTDIR" >&2; exit 2; }
OUT="$1"
case "$OUT" in /*) ;; *) echo "package.sh: OUTDIR must be absolute" >&2; exit 2 ;; esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
TRIPLE=x86_64-unknown-linux-gnu
export CARGO_BUILD_TARGET=$TRIPLE CARGO_TERM_COLOR=never
log() { printf '[kotlin package %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
t0=$(date +%s)

VERSION="$(scripts/version)" || fail "scripts/version found no workspace version"
GROUP=com.confirmafinance
ARTIFACT=confirma-sdk
log "$GROUP:$ARTIFACT:$VERSION -> $OUT"

# --- POM checks (both modes): the version from the workspace, the metadata Central requires -------------------
python3 - "$HERE/pom.xml" "$ROOT/examples/kotlin/pom.xml" "$VERSION" <<'PY' >&2 || fail "POM checks"
import sys, xml.etree.ElementTree as ET
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
pom, example, version = sys.argv[1:]
p = ET.parse(pom).getroot()
def t(path, root=p):
    e = root.find(path, ns)
    return (e.text or "").strip() if e is not None else ""
problems = []
if t("m:version") != version:
    problems.append(f"bindings-kotlin/pom.xml <version> is {t('m:version')!r}, the workspace says {version!r}")
for path in ["m:groupId", "m:artifactId", "m:name", "m:description", "m:url",
             "m:licenses/m:license/m:name", "m:licenses/m:license/m:url",
             "m:developers/m:developer/m:name", "m:scm/m:connection", "m:scm/m:developerConnection", "m:scm/m:url"]:
    if not t(path):
        problems.append(f"bindings-kotlin/pom.xml lacks {path.replace('m:', '')} (Maven Central requires it)")
if t("m:licenses/m:license/m:name") not in ("Apache-2.0", "The Apache Software License, Version 2.0"):
    problems.append("license is not Apache-2.0")
e = ET.parse(example).getroot()
for d in e.findall("m:dependencies/m:dependency", ns):
    if t("m:groupId", d) == "com.confirmafinance" and t("m:artifactId", d) == "confirma-sdk":
        if t("m:version", d) != version:
            problems.append(f"examples/kotlin/pom.xml pins confirma-sdk {t('m:version', d)!r}, the workspace says {version!r}")
        break
else:
    problems.append("examples/kotlin/pom.xml does not depend on com.confirmafinance:confirma-sdk")
for msg in problems:
    print("pom:", msg)
print("pom: version and Central metadata ok" if not problems else "pom: FAILED")
sys.exit(1 if problems else 0)
PY

rm -rf "$OUT"
mkdir -p "$OUT"
if [ "$QUICK" = 1 ]; then
    log "mvn validate (POM model)"
    mvn -B -q --no-transfer-progress -Dstyle.color=never -f "$HERE/pom.xml" -Prelease validate >&2 || fail "mvn validate"
    : >"$OUT/manifest.txt"
    log "quick: ok ($(( $(date +%s) - t0 )) s)"
    exit 0
fi

[ -f LICENSE ] || fail "no LICENSE at the repository root"
LEGAL="$HERE/target/legal"
rm -rf "$LEGAL"
mkdir -p "$LEGAL"
# The third-party license report (scripts/licenses.sh; under scripts/release, the release's full report).
log "third-party license report (scripts/licenses.sh)"
scripts/licenses.sh "$LEGAL/LICENSE-THIRD-PARTY.md" >&2 || fail "scripts/licenses.sh"
[ -s "$LEGAL/LICENSE-THIRD-PARTY.md" ] || fail "the third-party license report is empty"

# A local repository under target/: Maven Central's cache from ~/.m2 (copied once, then reused), never an SDK
# artifact from elsewhere, so the consumer below can only resolve what this run installed.
M2="$ROOT/target/kotlin-release/m2"
if [ ! -d "$M2" ] && [ -d "$HOME/.m2/repository" ]; then
    log "seeding $M2 from ~/.m2/repository (Maven Central cache)"
    mkdir -p "$M2"
    cp -a "$HOME/.m2/repository/." "$M2/"
fi
rm -rf "$M2/com/confirmafinance"
MVN=(mvn -B --no-transfer-progress -Dstyle.color=never -Dmaven.repo.local="$M2")

LOG="$HERE/target/mvn-release.log"
# CONFIRMA_CARGO_PROFILE=debug only to try the packaging steps quickly; a release is built with the release profile.
PROFILE="${CONFIRMA_CARGO_PROFILE:-release}"
log "mvn -Prelease install ($PROFILE native library, jar + sources + javadoc/Dokka; log: $LOG)"
tb=$(date +%s)
if ! CONFIRMA_CARGO_PROFILE="$PROFILE" "${MVN[@]}" -f "$HERE/pom.xml" -Prelease -DskipTests install >"$LOG" 2>&1; then
    grep -E 'ERROR|FAIL' "$LOG" | head -40 >&2 || true
    fail "mvn -Prelease install"
fi
log "maven build in $(( $(date +%s) - tb )) s"

REPO_DIR="$M2/com/confirmafinance/$ARTIFACT/$VERSION"
JAR="$REPO_DIR/$ARTIFACT-$VERSION.jar"
SRC="$REPO_DIR/$ARTIFACT-$VERSION-sources.jar"
DOC="$REPO_DIR/$ARTIFACT-$VERSION-javadoc.jar"
POM="$REPO_DIR/$ARTIFACT-$VERSION.pom"
for f in "$JAR" "$SRC" "$DOC" "$POM"; do [ -s "$f" ] || fail "not installed: $f"; done
SO_LIST="$(mktemp)"
# (the listing is read whole first: `unzip | grep -q` would die of SIGPIPE under pipefail)
has() { local l; l="$(unzip -Z1 "$1")"; grep -qx "$2" <<<"$l" || fail "$(basename "$1") lacks $2"; }
hasre() { local l; l="$(unzip -Z1 "$1")"; grep -q "$2" <<<"$l" || fail "$(basename "$1"): $3"; }
has "$JAR" linux-x86-64/libconfirma_kotlin.so
has "$JAR" META-INF/LICENSE
has "$JAR" com/confirmafinance/sdk/OnboardingClient.class
has "$JAR" META-INF/LICENSE-THIRD-PARTY.md
has "$SRC" com/confirmafinance/sdk/OnboardingClient.kt
has "$SRC" META-INF/LICENSE
hasre "$SRC" '^com/confirmafinance/sdk/.*\.kt$' "no Kotlin sources"
if unzip -Z1 "$SRC" >"$SO_LIST" && grep -q '\.so$' "$SO_LIST"; then fail "the sources jar carries a native library"; fi
has "$DOC" index.html
has "$DOC" META-INF/LICENSE
has "$DOC" META-INF/LICENSE-THIRD-PARTY.md
has "$SRC" META-INF/LICENSE-THIRD-PARTY.md
hasre "$DOC" 'OnboardingClient.html$' "no page for OnboardingClient"
# The native library in the jar is the release build (stripped).
SO_TMP="$(mktemp -d)"
trap 'rm -rf "$SO_TMP" "$SO_LIST"' EXIT
unzip -q -o "$JAR" linux-x86-64/libconfirma_kotlin.so -d "$SO_TMP"
[ "$PROFILE" != release ] || file "$SO_TMP/linux-x86-64/libconfirma_kotlin.so" | grep -q ', stripped' || fail "the jar's native library is not stripped"
{
    echo "glibc symbol versions required by libconfirma_kotlin.so: $(objdump -T "$SO_TMP/linux-x86-64/libconfirma_kotlin.so" \
        | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -n3 | tr '\n' ' ')(newest last)"
} | tee "$OUT/jar-glibc.txt" >&2

# --- the consumer: examples/kotlin, by coordinate only, against a fresh sandbox ---------------------------------
if [ -z "${CONFIRMA_SANDBOX_BIN:-}" ]; then
    CONFIRMA_SANDBOX_BIN="$ROOT/target/$TRIPLE/debug/confirma-sandbox"
    [ -x "$CONFIRMA_SANDBOX_BIN" ] || cargo build --quiet -p confirma-sandbox --target "$TRIPLE"
fi
log "consumer: examples/kotlin resolves $GROUP:$ARTIFACT:$VERSION from $M2, compiles, runs against the sandbox"
SB_OUT="$(mktemp)"
"$CONFIRMA_SANDBOX_BIN" --host 127.0.0.1 --port 0 >"$SB_OUT" 2>/dev/null &
SB_PID=$!
trap 'kill "$SB_PID" 2>/dev/null || true; rm -rf "$SO_TMP" "$SO_LIST" "$SB_OUT"' EXIT
for _ in $(seq 1 100); do [ -s "$SB_OUT" ] && break; sleep 0.1; done
line="$(head -n1 "$SB_OUT")"
json() { printf '%s' "$line" | sed -E 's/.*"'"$1"'" *: *"([^"]*)".*/\1/'; }
tc=$(date +%s)
# A fresh target dir for the consumer, so nothing compiled against another SDK build is reused.
rm -rf "$ROOT/examples/kotlin/target"
CFIS_BASE_URL="$(json baseUrl)" CFIS_PROVISIONING_TOKEN="$(json provisioningToken)" CFIS_PARTNER_CODE="$(json partnerCode)" \
    "${MVN[@]}" -q -f "$ROOT/examples/kotlin/pom.xml" compile exec:java >&2 || fail "consumer project"
# What it resolved: the jar this run installed, nothing else.
"${MVN[@]}" -q -f "$ROOT/examples/kotlin/pom.xml" dependency:build-classpath -Dmdep.outputFile="$OUT/consumer-classpath.txt" >&2 \
    || fail "consumer classpath"
tr ':' '\n' <"$OUT/consumer-classpath.txt" | grep -x "$JAR" >/dev/null || fail "the consumer did not resolve $JAR"
log "consumer ok in $(( $(date +%s) - tc )) s"

# --- staged in Maven repository layout -------------------------------------------------------------------------
STAGE="$OUT/maven/com/confirmafinance/$ARTIFACT/$VERSION"
mkdir -p "$STAGE"
cp "$JAR" "$SRC" "$DOC" "$POM" "$STAGE/"
: >"$OUT/manifest.txt"
for f in "$STAGE"/*; do
    md5sum "$f" | cut -d' ' -f1 >"$f.md5"
    sha1sum "$f" | cut -d' ' -f1 >"$f.sha1"
    printf 'maven\t%s\n' "${f#"$OUT"/}" >>"$OUT/manifest.txt"
done
log "ok in $(( $(date +%s) - t0 )) s: jar $(du -h "$JAR" | cut -f1), sources $(du -h "$SRC" | cut -f1), javadoc $(du -h "$DOC" | cut -f1)"
