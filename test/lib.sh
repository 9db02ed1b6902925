# shellcheck shell=bash
#
# test/lib.sh: shared helpers for the signicat test scripts (test/run.sh, test/demo.sh).
#
# Source it, do not run it. It provides:
#   log                  print a "==> message" progress line
#   ensure_packages      install the Debian packages the build and the tests need (apt-get)
#   build_and_install    make clean; make; make install (PGXS, PostgreSQL 15)
#   ensure_workdir       create the temporary $WORKDIR (mktemp -d, mode 755)
#   start_mock           start test/mock/signicat_mock.py on a free loopback port;
#                        exports MOCK_PORT and MOCK_URL
#   start_cluster        initdb + pg_ctl start a throw-away PostgreSQL 15 cluster in $WORKDIR,
#                        with signicat preloaded and pointed at the mock; exports PGHOST, PGPORT,
#                        PGUSER, PGDATABASE
#   stop_all             stop the cluster and the mock, remove $WORKDIR (idempotent)
#   install_cleanup_trap run stop_all on EXIT, INT and TERM
#   as_pg CMD...         run a command as the OS user that owns the cluster
#
# PostgreSQL refuses to run as root: when we are root, the cluster belongs to the `postgres` OS
# user (created by the postgresql-15 package) and every server-side command goes through `runuser`.
# As any other user, the cluster simply belongs to that user.
#
# Settings (environment):
#   PG_CONFIG          pg_config to build against (default /usr/lib/postgresql/15/bin/pg_config)
#   PG_BINDIR          server binaries (default /usr/lib/postgresql/15/bin)
#   WORKDIR            scratch directory (default: a new mktemp -d directory)
#   KEEP_WORKDIR=1     keep $WORKDIR (data directory, logs) after stop_all, for post-mortems
#   EXTRA_PG_CONF      extra postgresql.conf lines appended last (they win over ours)
#   PRELOAD_LIBRARIES  shared_preload_libraries value (default 'signicat'; e.g. 'signicat,pg_cron')
#   MOCK_CLIENT_ID / MOCK_CLIENT_SECRET   OAuth client credentials (default test-client/test-secret)

# Repository root: the parent of the directory holding this file.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO_ROOT

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PRELOAD_LIBRARIES=${PRELOAD_LIBRARIES-signicat}
MOCK_CLIENT_ID=${MOCK_CLIENT_ID:-test-client}
MOCK_CLIENT_SECRET=${MOCK_CLIENT_SECRET:-test-secret}
export PG_CONFIG PG_BINDIR

# Every test talks to loopback only: never send that traffic through a proxy that may be set in the
# environment (curl, libcurl inside the server and Python's urllib all honour no_proxy).
export no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"
export NO_PROXY="$no_proxy"

# Internal state, so that stop_all knows what it has to undo.
_LIB_WORKDIR_CREATED=${_LIB_WORKDIR_CREATED:-}
MOCK_PID=${MOCK_PID:-}

# log MESSAGE...: a progress line, easy to spot among tool output.
log() {
    printf '==> %s\n' "$*"
}

# die MESSAGE...: print an error to stderr and fail.
die() {
    printf '==> ERROR: %s\n' "$*" >&2
    return 1
}

# _is_root: true when running with uid 0.
_is_root() {
    [[ $(id -u) -eq 0 ]]
}

# _as_root CMD...: run CMD as root (directly, or through sudo when available).
_as_root() {
    if _is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root for: $* (not root and sudo is not available)"
    fi
}

# pg_os_user: the OS user that owns and runs the test cluster.
pg_os_user() {
    if _is_root; then
        echo postgres
    else
        id -un
    fi
}

# as_pg CMD...: run CMD as the cluster's OS user, in $WORKDIR (or /) so that an unreadable current
# directory (e.g. /root) does not bother initdb or pg_ctl.
as_pg() {
    local dir=${WORKDIR:-/}
    [[ -d $dir ]] || dir=/
    if _is_root; then
        (cd "$dir" && runuser -u postgres -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

# ensure_packages: install the Debian packages needed to build and test, when missing.
# `apt-get update` runs at most once, and only when something has to be installed.
ensure_packages() {
    local pkgs=(postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev make gcc python3
                libipc-run-perl postgresql-15-cron curl ca-certificates)
    local missing=() p status
    for p in "${pkgs[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "packages: all present"
        return 0
    fi
    if ! _is_root && ! command -v sudo >/dev/null 2>&1; then
        die "missing packages: ${missing[*]}; run as root or install sudo (apt-get install ${missing[*]})"
        return 1
    fi
    log "installing packages: ${missing[*]}"
    if [[ -z ${_LIB_APT_UPDATED:-} ]]; then
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update || return 1
        _LIB_APT_UPDATED=1
    fi
    _as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -q install -y --no-install-recommends "${missing[@]}" || return 1
    log "installed: ${missing[*]}"
}

# build_and_install: build the extension from a clean tree (compiler warnings stay visible) and
# install it into the PostgreSQL 15 tree.
build_and_install() {
    log "building (PG_CONFIG=$PG_CONFIG)"
    (
        cd "$REPO_ROOT" || exit 1
        make -s PG_CONFIG="$PG_CONFIG" clean >/dev/null 2>&1 || true
        make PG_CONFIG="$PG_CONFIG" || { echo "==> ERROR: build failed" >&2; exit 1; }
        log "installing"
        _as_root make PG_CONFIG="$PG_CONFIG" install || { echo "==> ERROR: make install failed" >&2; exit 1; }
    )
}

# ensure_workdir: create $WORKDIR unless it exists; it must be traversable by the postgres user.
ensure_workdir() {
    if [[ -z ${WORKDIR:-} ]]; then
        WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/signicat-test.XXXXXX") || return 1
        _LIB_WORKDIR_CREATED=1
    elif [[ ! -d $WORKDIR ]]; then
        mkdir -p "$WORKDIR" || return 1
        _LIB_WORKDIR_CREATED=1
    fi
    chmod 755 "$WORKDIR"
    export WORKDIR
}

# start_mock: start the mock Signicat server on a free loopback port, wait until it listens and
# answers its health check. Exports MOCK_PORT, MOCK_URL (and MOCK_PID for stop_all).
start_mock() {
    ensure_workdir || return 1
    local port_file="$WORKDIR/mock.port" mock="$REPO_ROOT/test/mock/signicat_mock.py" i
    [[ -f $mock ]] || { die "mock server not found: $mock"; return 1; }
    rm -f "$port_file"
    log "starting mock Signicat server (log: $WORKDIR/mock.log)"
    python3 "$mock" --host 127.0.0.1 --port 0 --port-file "$port_file" \
        --client-id "$MOCK_CLIENT_ID" --client-secret "$MOCK_CLIENT_SECRET" \
        >"$WORKDIR/mock.log" 2>&1 </dev/null &
    MOCK_PID=$!
    for ((i = 0; i < 100; i++)); do        # 100 x 0.1 s = 10 s
        [[ -s $port_file ]] && break
        if ! kill -0 "$MOCK_PID" 2>/dev/null; then
            wait "$MOCK_PID" 2>/dev/null || true
            MOCK_PID=
            cat "$WORKDIR/mock.log" >&2
            die "mock server exited before listening"
            return 1
        fi
        sleep 0.1
    done
    if [[ ! -s $port_file ]]; then
        cat "$WORKDIR/mock.log" >&2
        die "mock server did not write its port file within 10 s"
        return 1
    fi
    MOCK_PORT=$(tr -d '[:space:]' <"$port_file")
    [[ $MOCK_PORT =~ ^[0-9]+$ ]] || { die "bad port in $port_file: '$MOCK_PORT'"; return 1; }
    MOCK_URL="http://127.0.0.1:$MOCK_PORT"
    export MOCK_PORT MOCK_URL MOCK_PID
    local health
    if ! health=$(curl -fsS --max-time 5 "$MOCK_URL/__mock/health"); then
        cat "$WORKDIR/mock.log" >&2
        die "mock health check failed at $MOCK_URL/__mock/health"
        return 1
    fi
    if [[ ! $health =~ \"ok\":[[:space:]]*true ]]; then
        die "mock health check answered: $health"
        return 1
    fi
    log "mock listening at $MOCK_URL (pid $MOCK_PID)"
}

# _free_port: print a TCP port that is free on 127.0.0.1 right now.
_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_cluster: create and start a throw-away cluster in $WORKDIR/data, listening on 127.0.0.1 at
# a free port and on a socket in $WORKDIR/sock, with signicat preloaded and configured for the mock
# (start_mock must have run). Exports PGHOST, PGPORT, PGUSER, PGDATABASE.
start_cluster() {
    ensure_workdir || return 1
    [[ -n ${MOCK_URL:-} ]] || { die "start_cluster: MOCK_URL is not set (run start_mock first)"; return 1; }
    local owner data="$WORKDIR/data" sock="$WORKDIR/sock" logf="$WORKDIR/postgres.log" port
    owner=$(pg_os_user)
    if _is_root && ! id postgres >/dev/null 2>&1; then
        die "OS user 'postgres' does not exist (is postgresql-15 installed?)"
        return 1
    fi
    mkdir -p "$data" "$sock"
    touch "$logf"
    if _is_root; then
        chown postgres: "$data" "$sock" "$logf"
    fi
    chmod 700 "$data"

    log "initdb in $data (as $owner)"
    if ! as_pg "$PG_BINDIR/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
            --no-sync >"$WORKDIR/initdb.log" 2>&1; then
        cat "$WORKDIR/initdb.log" >&2
        die "initdb failed"
        return 1
    fi

    port=$(_free_port) || { die "could not find a free port"; return 1; }
    cat >>"$data/postgresql.conf" <<EOF

# ---- added by test/lib.sh (signicat test harness) ----
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
shared_preload_libraries = '$PRELOAD_LIBRARIES'
signicat.base_url = '$MOCK_URL'
signicat.token_url = '$MOCK_URL/auth/open/connect/token'
signicat.client_id = '$MOCK_CLIENT_ID'
signicat.client_secret = '$MOCK_CLIENT_SECRET'
log_min_messages = warning
logging_collector = off
fsync = off
EOF
    if [[ -n ${EXTRA_PG_CONF:-} ]]; then
        printf '# ---- EXTRA_PG_CONF ----\n%s\n' "$EXTRA_PG_CONF" >>"$data/postgresql.conf"
    fi

    log "starting PostgreSQL on 127.0.0.1:$port (log: $logf)"
    if ! as_pg "$PG_BINDIR/pg_ctl" -D "$data" -w -t 60 -s -l "$logf" start; then
        tail -n 50 "$logf" >&2
        die "PostgreSQL did not start"
        return 1
    fi
    PGHOST=$sock
    PGPORT=$port
    PGUSER=postgres
    PGDATABASE=postgres
    export PGHOST PGPORT PGUSER PGDATABASE
    if ! "$PG_BINDIR/psql" -X -q -A -t -c 'SELECT 1' >/dev/null; then
        tail -n 50 "$logf" >&2
        die "PostgreSQL started but does not accept connections"
        return 1
    fi
    log "PostgreSQL ready: PGHOST=$PGHOST PGPORT=$PGPORT"
}

# stop_all: stop the cluster and the mock, then remove $WORKDIR unless KEEP_WORKDIR=1.
# Safe to call more than once and from a trap; keeps the caller's exit status.
stop_all() {
    local rc=$? i
    if [[ -n ${WORKDIR:-} && -f $WORKDIR/data/postmaster.pid ]]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$WORKDIR/data" -m fast -s -w stop >/dev/null 2>&1 || true
    fi
    if [[ -n ${MOCK_PID:-} ]]; then
        kill -TERM "$MOCK_PID" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do     # give it 5 s, then insist
            kill -0 "$MOCK_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
        MOCK_PID=
    fi
    if [[ -n ${WORKDIR:-} && -d $WORKDIR ]]; then
        if [[ ${KEEP_WORKDIR:-0} == 1 ]]; then
            log "kept work directory: $WORKDIR"
        elif [[ -n $_LIB_WORKDIR_CREATED ]]; then
            rm -rf "$WORKDIR"
            _LIB_WORKDIR_CREATED=
        fi
    fi
    return "$rc"
}

# install_cleanup_trap: stop everything on any exit. INT/TERM exit (128+signal), which in turn runs
# the EXIT trap, so stop_all runs once and the script does not carry on after an interrupt.
install_cleanup_trap() {
    trap stop_all EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
