#!/usr/bin/env bash
# Kotlin/JVM binding: build the native library + uniffi-bindgen (debug, x86_64-unknown-linux-gnu), generate the
# Kotlin bindings, compile, package the jar (native library inside at linux-x86-64/), and run the JUnit 5 suites:
# surefire (every tests/scenarios/*.json and tests/scenarios/lifecycle/*.json + Kotlin API, lifecycle, partner-store
# (JDBC/sqlite-jdbc), PostgreSQL-store and two-process tests) and failsafe (the packaged jar in a fresh JVM), all
# against the real sandbox. Then runs examples/kotlin against a fresh sandbox. Run from anywhere; works from an
# empty ~/.m2 (Maven Central) — downloads are cached in the default local repository between runs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu

need() { command -v "$1" >/dev/null 2>&1; }
if ! need java || ! need mvn || ! need javac; then
    echo "-- installing a JDK 17 and Maven (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
fi

if [ -z "${CONFIRMA_SANDBOX_BIN:-}" ]; then
    echo "-- building the sandbox"
    (cd "$ROOT" && cargo build --quiet --target x86_64-unknown-linux-gnu -p confirma-sandbox)
    export CONFIRMA_SANDBOX_BIN="$ROOT/target/x86_64-unknown-linux-gnu/debug/confirma-sandbox"
fi

MVN=(mvn -B --no-transfer-progress -Dstyle.color=never)
LOG="$HERE/target/mvn-install.log"
mkdir -p "$HERE/target"
echo "-- mvn install (native build, bindings, compile, jar, tests; full log: $LOG)"
# `install` = verify + put the jar in the local repository, where examples/kotlin resolves it.
# Under a throwaway PostgreSQL cluster (scripts/postgres.sh: CONFIRMA_TEST_POSTGRES_URL) for PostgresStoreTest, which
# fails rather than skips here (CONFIRMA_REQUIRE_POSTGRES=1).
if ! CONFIRMA_REQUIRE_POSTGRES=1 "$ROOT/scripts/postgres.sh" run -- "${MVN[@]}" -f "$HERE/pom.xml" install >"$LOG" 2>&1; then
    grep -E 'Tests run:|FAIL|ERROR' "$LOG" | head -80 || true
    tail -40 "$LOG"
    echo "kotlin: mvn install FAILED"
    exit 1
fi
grep -E 'Tests run:|cold JVM|confirma-kotlin:' "$LOG" || true
echo "-- jar: $(du -h "$HERE"/target/confirma-sdk-*.jar | cut -f1)  $(cat "$HERE/target/cold-start.txt" 2>/dev/null || true)"

echo "-- examples/kotlin against a fresh sandbox"
SB_OUT="$(mktemp)"
"$CONFIRMA_SANDBOX_BIN" --host 127.0.0.1 --port 0 >"$SB_OUT" 2>/dev/null &
SB_PID=$!
trap 'kill "$SB_PID" 2>/dev/null || true; rm -f "$SB_OUT"' EXIT
for _ in $(seq 1 100); do [ -s "$SB_OUT" ] && break; sleep 0.1; done
line="$(head -n1 "$SB_OUT")"
json() { printf '%s' "$line" | sed -E 's/.*"'"$1"'" *: *"([^"]*)".*/\1/'; }
export CFIS_BASE_URL="$(json baseUrl)" CFIS_PROVISIONING_TOKEN="$(json provisioningToken)" CFIS_PARTNER_CODE="$(json partnerCode)"
"${MVN[@]}" -q -f "$ROOT/examples/kotlin/pom.xml" compile exec:java
echo "-- examples/kotlin lifecycle service (self-test: TokenManager over SQLite, requests around a rotation)"
SVC_DIR="$(mktemp -d)"
trap 'kill "$SB_PID" 2>/dev/null || true; rm -rf "$SB_OUT" "$SVC_DIR"' EXIT
CONFIRMA_STORE_KEY="$(head -c 32 /dev/urandom | base64)" STORE_PATH="$SVC_DIR/credentials.db" \
    "${MVN[@]}" -q -f "$ROOT/examples/kotlin/pom.xml" exec:java -Dexec.mainClass=example.LifecycleServiceKt -Dexec.args=self-test
echo "kotlin: ok"
