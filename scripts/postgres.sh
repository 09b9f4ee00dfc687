#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: installed from Debian's packages when absent, created by a
# non-root user (Debian's `postgres` when run as root) in a temporary directory, listening on a free loopback
# port (127.0.0.1 only; its unix socket in the temporary directory too), with one database and a role that
# logs in with a random password. Its URL is exported as CONFIRMA_TEST_POSTGRES_URL; with TLS on (a throwaway CA,
# its certificate in CONFIRMA_TEST_POSTGRES_CA; database confirma_tls takes TLS connections only).
#
#   scripts/postgres.sh run -- CMD ARGS...     # start, run CMD with the URL in its environment, stop + remove
#   source scripts/postgres.sh start           # start; exports the URL; stops + removes on the shell's EXIT
#   eval "$(scripts/postgres.sh start)"        # start, print `export ...` lines; the cluster stays up until
#   scripts/postgres.sh stop                   #   stop (uses CONFIRMA_TEST_POSTGRES_DIR from the environment)
#
# Quiet unless something fails (then the server log is shown). CONFIRMA_PG_QUIET=0 shows timings.
#
# Sourced, this file changes nothing in the caller's shell options and defines only `confirma_pg_*` functions.

confirma_pg_say() { [ "${CONFIRMA_PG_QUIET:-1}" = 0 ] && echo "postgres.sh: $*" >&2; return 0; }

confirma_pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

confirma_pg_install() {
    confirma_pg_bindir >/dev/null && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "postgres.sh: PostgreSQL is not installed and this is not root: apt-get install postgresql" >&2
        return 1
    fi
    local t0=$SECONDS
    echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
    # No default cluster (ours is throwaway) and no service start from the package scripts.
    mkdir -p /etc/postgresql-common
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || return 1
    # --force-confold: keep the createcluster.conf written above (dpkg would otherwise ask about it).
    apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold postgresql postgresql-client >/dev/null || return 1
    confirma_pg_bindir >/dev/null || { echo "postgres.sh: no initdb after installing postgresql" >&2; return 1; }
    echo "postgres.sh: installed in $((SECONDS - t0)) s" >&2
}

# Runs a command as the cluster's owner (root cannot run a PostgreSQL server).
confirma_pg_as() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")   # from /: the caller's directory may be closed to that user
    else
        "$@"
    fi
}

confirma_pg_port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

confirma_pg_start() {
    local t0=$SECONDS bindir dir pw port tries=0
    confirma_pg_install || return 1
    bindir=$(confirma_pg_bindir) || return 1
    dir=$(mktemp -d /tmp/confirma-pg.XXXXXX) || return 1
    export CONFIRMA_TEST_POSTGRES_DIR=$dir
    pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || { echo "postgres.sh: no \`postgres\` user" >&2; return 1; }
        chown postgres: "$dir"
    fi
    chmod 700 "$dir"
    confirma_pg_as "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=reject \
        -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    # TLS: a throwaway CA and a server certificate for localhost / 127.0.0.1 (the CA's path is exported as
    # CONFIRMA_TEST_POSTGRES_CA; database confirma_tls accepts TLS connections only).
    local ssl_opts=""
    if command -v openssl >/dev/null 2>&1 && confirma_pg_certs "$dir"; then
        ssl_opts="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
    fi
    # Roles with a password (the test role, and those the tests create), only from loopback.
    printf '%s\n' "local all all trust" "hostnossl confirma_tls all 127.0.0.1/32 reject" \
        "host all all 127.0.0.1/32 scram-sha-256" >"$dir/data/pg_hba.conf"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/data/pg_hba.conf"
    while :; do
        port=$(( 20000 + RANDOM % 40000 ))
        confirma_pg_port_free "$port" || continue
        if confirma_pg_as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 $ssl_opts" \
            start >/dev/null 2>&1; then
            break
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge 5 ]; then
            echo "postgres.sh: the server does not start:" >&2
            cat "$dir/server.log" >&2
            return 1
        fi
    done
    confirma_pg_as "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE confirma LOGIN CREATEDB CREATEROLE PASSWORD '$pw'" \
        -c "CREATE DATABASE confirma_test OWNER confirma" -c "CREATE DATABASE confirma_tls OWNER confirma" >/dev/null \
        || { cat "$dir/server.log" >&2; return 1; }
    export CONFIRMA_TEST_POSTGRES_PORT=$port
    export CONFIRMA_TEST_POSTGRES_URL="postgres://confirma:$pw@127.0.0.1:$port/confirma_test"
    if [ -n "$ssl_opts" ]; then export CONFIRMA_TEST_POSTGRES_CA=$dir/ca.crt; fi
    confirma_pg_say "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') up on 127.0.0.1:$port in $((SECONDS - t0)) s ($dir)"
}

# A CA and a server certificate (P-256, two days) in $1, the key readable by the server only.
confirma_pg_certs() {
    local dir=$1
    (
        cd "$dir" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=confirma test CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout ca.key -out ca.crt &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
            -keyout server.key -out server.csr &&
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext &&
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.crt &&
        rm -f ca.key server.csr server.ext ca.srl && chmod 600 server.key && chmod 644 ca.crt
    ) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; return 1; }
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/server.key" "$dir/server.crt"
    return 0
}

confirma_pg_stop() {
    local dir=${CONFIRMA_TEST_POSTGRES_DIR:-} bindir
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    case "$dir" in /tmp/confirma-pg.*) ;; *) echo "postgres.sh: refusing to remove $dir" >&2; return 1 ;; esac
    if bindir=$(confirma_pg_bindir) && [ -f "$dir/data/postmaster.pid" ]; then
        confirma_pg_as "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 -s stop >/dev/null 2>&1 \
            || true
    fi
    rm -rf "$dir"
    unset CONFIRMA_TEST_POSTGRES_DIR CONFIRMA_TEST_POSTGRES_URL CONFIRMA_TEST_POSTGRES_PORT CONFIRMA_TEST_POSTGRES_CA
    confirma_pg_say "stopped and removed $dir"
}

confirma_pg_main() {
    local cmd=${1:-}
    shift || true
    case "$cmd" in
        run)
            [ "${1:-}" = "--" ] && shift
            [ $# -gt 0 ] || { echo "usage: scripts/postgres.sh run -- CMD ARGS..." >&2; return 2; }
            trap confirma_pg_stop EXIT
            trap 'exit 130' INT TERM
            confirma_pg_start || return 1
            "$@"
            ;;
        start)
            confirma_pg_start || { confirma_pg_stop; return 1; }
            printf 'export CONFIRMA_TEST_POSTGRES_DIR=%q CONFIRMA_TEST_POSTGRES_URL=%q CONFIRMA_TEST_POSTGRES_PORT=%q CONFIRMA_TEST_POSTGRES_CA=%q\n' \
                "$CONFIRMA_TEST_POSTGRES_DIR" "$CONFIRMA_TEST_POSTGRES_URL" "$CONFIRMA_TEST_POSTGRES_PORT" "${CONFIRMA_TEST_POSTGRES_CA:-}"
            ;;
        stop) confirma_pg_stop ;;
        *) echo "usage: scripts/postgres.sh run -- CMD... | start | stop" >&2; return 2 ;;
    esac
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: `source scripts/postgres.sh start` leaves the server up for this shell, removed on its EXIT.
    case "${1:-}" in
        start) confirma_pg_start && trap confirma_pg_stop EXIT || { confirma_pg_stop; false; } ;;
        stop) confirma_pg_stop ;;
        "") ;;
        *) echo "usage: source scripts/postgres.sh start|stop" >&2; false ;;
    esac
else
    set -uo pipefail
    confirma_pg_main "$@"
fi
