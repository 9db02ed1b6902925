# shellcheck shell=bash
#
# test/lib.sh: shared helpers for the signicat test scripts (test/run.sh, test/demo.sh,
# test/sanitize.sh, test/valgrind.sh).
#
# Source it, do not run it. It provides (the private_* helpers of sanitize.sh and valgrind.sh are
# described in their own section, "private builds", at the end):
#   log                  print a "==> message" progress line
#   ensure_packages      install the Debian packages the build and the tests need (apt-get)
#   ensure_debian_packages PKG...  install those of PKG that are missing
#   use_pg MAJOR         build against and run PostgreSQL MAJOR (test/pg_versions.sh: 15 from Debian's
#                        packages, 18 built once from Debian's source package)
#   build_and_install    make clean; make; make install (PGXS, against $PG_CONFIG)
#   ensure_workdir       create the temporary $WORKDIR (mktemp -d, mode 755)
#   start_mock           start test/mock/signicat_mock.py on a free loopback port;
#                        exports MOCK_PORT and MOCK_URL
#   start_cluster        initdb + pg_ctl start a throw-away cluster ($PG_BINDIR) in $WORKDIR,
#                        with signicat preloaded and pointed at the mock; exports PGHOST, PGPORT,
#                        PGUSER, PGDATABASE
#   stop_services        stop the cluster and the mock, keep $WORKDIR (idempotent)
#   stop_all             stop_services, then remove $WORKDIR (idempotent)
#   install_cleanup_trap run stop_all on EXIT, INT and TERM
#   as_pg CMD...         run a command as the OS user that owns the cluster
#
# PostgreSQL refuses to run as root: when we are root, the cluster belongs to the `postgres` OS
# user (created by the postgresql-15 package) and every server-side command goes through `runuser`.
# As any other user, the cluster simply belongs to that user.
#
# Settings (environment):
#   PG_CONFIG          pg_config to build against (default /usr/lib/postgresql/15/bin/pg_config)
#   PG_BINDIR          server binaries (default: PG_CONFIG --bindir)
#   WORKDIR            scratch directory (default: a new mktemp -d directory)
#   KEEP_WORKDIR=1     keep $WORKDIR (data directory, logs) after stop_all, for post-mortems
#   EXTRA_PG_CONF      extra postgresql.conf lines appended last (they win over ours)
#   PRELOAD_LIBRARIES  shared_preload_libraries value (default 'signicat'; e.g. 'signicat,pg_cron')
#   MOCK_CLIENT_ID / MOCK_CLIENT_SECRET   OAuth client credentials (default test-client/test-secret)

# Repository root: the parent of the directory holding this file.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO_ROOT

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# the server binaries of that pg_config (a server built from source: PG_CONFIG=/its/bin/pg_config)
if [[ -z ${PG_BINDIR:-} ]]; then
    PG_BINDIR=$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
fi
PRELOAD_LIBRARIES=${PRELOAD_LIBRARIES-signicat}
MOCK_CLIENT_ID=${MOCK_CLIENT_ID:-test-client}
MOCK_CLIENT_SECRET=${MOCK_CLIENT_SECRET:-test-secret}
export PG_CONFIG PG_BINDIR
# shellcheck source=test/pg_versions.sh
source "$REPO_ROOT/test/pg_versions.sh"

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
ensure_packages() {
    ensure_debian_packages postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev make gcc python3 \
        libipc-run-perl postgresql-15-cron curl ca-certificates openssl python3-psycopg
}

# ensure_debian_packages PKG...: install the packages PKG that are missing (apt-get). `apt-get update`
# runs at most once, and only when something has to be installed.
ensure_debian_packages() {
    local pkgs=("$@")
    local missing=() p status
    for p in "${pkgs[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "packages: all present (${pkgs[*]})"
        return 0
    fi
    if ! _is_root && ! command -v sudo >/dev/null 2>&1; then
        die "missing packages: ${missing[*]}; run as root or install sudo (apt-get install ${missing[*]})"
        return 1
    fi
    log "installing packages: ${missing[*]}"
    if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
        _no_main_cluster || return 1
    fi
    if [[ -z ${_LIB_APT_UPDATED:-} ]]; then
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update || return 1
        _LIB_APT_UPDATED=1
    fi
    # UCF_FORCE_CONFFOLD: keep the createcluster.conf written above when postgresql-common installs
    _as_root env DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 \
        apt-get -q install -y --no-install-recommends "${missing[@]}" || return 1
    log "installed: ${missing[*]}"
}

# _no_main_cluster: before postgresql-15 is installed, tell Debian's postgresql-common not to create
# (and start) the default cluster 15/main on port 5432, which nothing here uses and nothing would
# stop: create_main_cluster = false in /etc/postgresql-common/createcluster.conf, the Debian way.
# A createcluster.conf that already says something about it is left alone.
_no_main_cluster() {
    local conf=/etc/postgresql-common/createcluster.conf
    if [[ -f $conf ]] && grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=' "$conf"; then
        return 0
    fi
    log "create_main_cluster = false in $conf (no default cluster 15/main is created or started)"
    _as_root mkdir -p "${conf%/*}" || return 1
    printf '# added by signicat test/lib.sh: no default cluster when a PostgreSQL package installs\ncreate_main_cluster = false\n' |
        _as_root tee -a "$conf" >/dev/null
}

# build_and_install: build the extension from a clean tree (compiler warnings stay visible) and
# install it into the tree of $PG_CONFIG.
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
        _LIB_WORKDIR_CREATED=$WORKDIR
    elif [[ ! -d $WORKDIR ]]; then
        mkdir -p "$WORKDIR" || return 1
        _LIB_WORKDIR_CREATED=$WORKDIR
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
    local rc=$?
    stop_services
    if [[ -n ${WORKDIR:-} && -d $WORKDIR ]]; then
        # (the directory we created: test/run.sh works in subdirectories of it, one per version)
        if [[ ${KEEP_WORKDIR:-0} == 1 ]]; then
            log "kept work directory: ${_LIB_WORKDIR_CREATED:-$WORKDIR}"
        elif [[ -n $_LIB_WORKDIR_CREATED ]]; then
            rm -rf "$_LIB_WORKDIR_CREATED"
            _LIB_WORKDIR_CREATED=
        fi
    fi
    return "$rc"
}

# stop_services: stop the cluster in $WORKDIR/data and the mock, keeping $WORKDIR (idempotent).
stop_services() {
    local i
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
    return 0
}

# install_cleanup_trap: stop everything on any exit. INT/TERM exit (128+signal), which in turn runs
# the EXIT trap, so stop_all runs once and the script does not carry on after an interrupt.
install_cleanup_trap() {
    trap stop_all EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# ==== private builds: the parts shared by test/sanitize.sh and test/valgrind.sh ====================
#
# Those scripts build the extension with their own compiler options in a copy of the tree, install it
# with DESTDIR into a private PostgreSQL tree, and run a cluster from that tree through a pg_ctl
# wrapper that starts the postmaster under their tool (sanitizer runtimes, valgrind). Nothing in /usr
# and none of /work/main's own build products change. Their sequence:
#
#   private_setup                  ensure_workdir; BUILD, PRIV, OUT, PGLOG; START (the clock)
#   private_build COPT...          copy the tree to $BUILD and build it there (COPT, with_llvm=no)
#   private_pg_tree                make install DESTDIR=$PRIV, then complete $PRIV into a runnable tree
#   (the script writes its wrapper, $P_BIN/postgres-<tool>, which execs "$P_BIN/postgres" "$@")
#   private_pg_ctl WRAPPER         $P_BIN/pg_ctl starting WRAPPER as the postmaster; PG_BINDIR=$P_BIN
#   private_start_services RE WHAT start_mock + start_cluster, then check that the postmaster has
#                                  mapped $P_LIB/signicat.so and a file matching RE (its tool)
#   private_neutralise_rss TOOL    make the memory test's RSS readings a constant (in $BUILD only)
#   private_regress_tests [SKIP...]  print the Makefile's REGRESS without the tests SKIP
#   private_installcheck TEST...   make installcheck in $BUILD; SUITE_PASSED, SUITE_FAILED, SUITE_SECONDS
#   private_stop_cluster SECONDS   stop the cluster (fast, at most SECONDS; else immediate)
#   (the script scans its tool's reports; test_of_pid PID names the test a backend ran)
#   private_crashes                count (CRASHES) and list the crashed server processes in $PGLOG
#   private_finish [COUNT...]      timing line and the last line "N passed, M failed", M counting
#                                  SUITE_FAILED + CRASHES + every COUNT; returns 0 only when M is 0
#   private_abort                  print "0 passed, 1 failed" and exit 1 (a step above failed)
#   private_log_dir DIR            create DIR, writable by the cluster's OS user (for tool logs)
#
# Globals they set (read them in the script): BUILD ($WORKDIR/build, the copy), PRIV ($WORKDIR/pg),
# OUT ($WORKDIR/out: build.log, installcheck.log), PGLOG ($WORKDIR/postgres.log, the server log),
# SYS_BIN/SYS_LIB/SYS_SHARE (pg_config's bindir, pkglibdir, sharedir) and P_BIN/P_LIB/P_SHARE (the
# same inside $PRIV), PRIVATE_COPT, PMPID (the postmaster's pid), START, START_SERVICES,
# SUITE_PASSED, SUITE_FAILED, SUITE_SECONDS, CRASHES.
#
# Why a private tree works: PostgreSQL finds its share dir (extension scripts) and $libdir relative to
# its own binary, so a postmaster started from $P_BIN/postgres (a copy: PostgreSQL resolves symlinks
# to itself) loads $P_LIB/signicat.so and $P_SHARE/extension/signicat--*.sql; every other file of the
# system's lib and share dirs is symlinked in (pg_cron.so, plpgsql.so, ...). initdb, psql and
# pg_isready are the system's (symlinks), so only the postmaster and its children run the private
# build under the tool.

# private_setup: create $WORKDIR and, inside it, BUILD, PRIV and OUT; start the clock (START).
private_setup() {
    ensure_workdir || return 1
    START=$SECONDS
    BUILD="$WORKDIR/build"
    PRIV="$WORKDIR/pg"
    OUT="$WORKDIR/out"
    PGLOG="$WORKDIR/postgres.log"
    mkdir -p "$BUILD" "$PRIV" "$OUT"
}

# private_log_dir DIR: create DIR (for a tool's per-process logs) writable by the cluster's OS user.
private_log_dir() {
    mkdir -p "$1" || return 1
    if _is_root; then
        chown "$(pg_os_user)": "$1" || return 1
    fi
}

# private_abort: the last line for a run that could not get as far as its tests; exits 1.
private_abort() {
    echo "0 passed, 1 failed"
    exit 1
}

# private_build COPT...: copy the repository (without .git and build products) to $BUILD and build it
# there with COPT="COPT..." and with_llvm=no (no bitcode). Output in $OUT/build.log, shown on failure.
private_build() {
    PRIVATE_COPT="$*"
    log "copying the tree to $BUILD"
    tar -C "$REPO_ROOT" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=./results --exclude='./regression.*' --exclude=./tmp_check --exclude=./log \
        -cf - . | tar -C "$BUILD" -xf - || { die "could not copy the tree to $BUILD"; return 1; }
    log "building with COPT='$PRIVATE_COPT'"
    if ! make -C "$BUILD" -s PG_CONFIG="$PG_CONFIG" with_llvm=no COPT="$PRIVATE_COPT" \
            >"$OUT/build.log" 2>&1; then
        cat "$OUT/build.log" >&2
        die "build failed (COPT='$PRIVATE_COPT')"
        return 1
    fi
}

# _private_link_missing FROM TO: symlink every entry of FROM into TO that TO does not have yet.
_private_link_missing() {
    local e
    mkdir -p "$2" || return 1
    for e in "$1"/*; do
        [[ -e $2/${e##*/} || -L $2/${e##*/} ]] || ln -s "$e" "$2/${e##*/}" || return 1
    done
}

# private_pg_tree: install the build of private_build with DESTDIR=$PRIV (output appended to
# $OUT/build.log), then make $PRIV a PostgreSQL tree of its own: a copy of the system's postgres
# binary, symlinks to initdb, psql, pg_isready and to every file of the system's pkglibdir and
# sharedir that the install did not provide. Sets SYS_BIN, SYS_LIB, SYS_SHARE, P_BIN, P_LIB, P_SHARE.
private_pg_tree() {
    local b
    if ! make -C "$BUILD" -s PG_CONFIG="$PG_CONFIG" with_llvm=no COPT="$PRIVATE_COPT" DESTDIR="$PRIV" \
            install >>"$OUT/build.log" 2>&1; then
        cat "$OUT/build.log" >&2
        die "make install DESTDIR=$PRIV failed"
        return 1
    fi
    SYS_BIN=$("$PG_CONFIG" --bindir) || return 1
    SYS_LIB=$("$PG_CONFIG" --pkglibdir) || return 1
    SYS_SHARE=$("$PG_CONFIG" --sharedir) || return 1
    P_BIN="$PRIV$SYS_BIN"
    P_LIB="$PRIV$SYS_LIB"
    P_SHARE="$PRIV$SYS_SHARE"
    if [[ ! -f $P_LIB/signicat.so || ! -f $P_SHARE/extension/signicat.control ]]; then
        die "make install DESTDIR=$PRIV did not install signicat.so and signicat.control"
        return 1
    fi
    mkdir -p "$P_BIN" || return 1
    cp "$SYS_BIN/postgres" "$P_BIN/postgres" || return 1  # a copy: PostgreSQL resolves symlinks to itself
    _private_link_missing "$SYS_LIB" "$P_LIB" || return 1  # pg_cron.so, plpgsql.so, ... (signicat.so is ours)
    _private_link_missing "$SYS_SHARE/extension" "$P_SHARE/extension" || return 1
    _private_link_missing "$SYS_SHARE" "$P_SHARE" || return 1
    for b in initdb psql pg_isready; do
        ln -sf "$SYS_BIN/$b" "$P_BIN/$b" || return 1
    done
}

# private_pg_ctl WRAPPER: write $P_BIN/pg_ctl, the system's pg_ctl starting WRAPPER (an executable
# script that execs "$P_BIN/postgres" "$@" under the tool) as the postmaster. pg_ctl's sh execs the
# wrapper, which execs postgres (or valgrind, which runs postgres in the same process): the pid
# pg_ctl waits for stays the postmaster's. Makes $PRIV readable for the cluster's OS user and points
# PG_BINDIR (which start_cluster and stop_all use) at $P_BIN.
private_pg_ctl() {
    local wrapper=$1
    cat >"$P_BIN/pg_ctl" <<EOF || return 1
#!/bin/sh
exec '$SYS_BIN/pg_ctl' -p '$wrapper' "\$@"
EOF
    chmod 755 "$P_BIN/pg_ctl" "$wrapper" || return 1
    chmod -R a+rX "$PRIV" || return 1
    PG_BINDIR="$P_BIN"
    export PG_BINDIR
    log "build and private install: $((SECONDS - START)) s"
}

# private_start_services MAPS_RE WHAT: start the mock and the cluster (start_mock, start_cluster:
# PRELOAD_LIBRARIES and EXTRA_PG_CONF as the script exported them), then check in /proc/PID/maps that
# the postmaster runs the private build, $P_LIB/signicat.so, and its tool (a mapped file matching the
# grep pattern MAPS_RE); WHAT describes the tool in the messages ("under valgrind"). Sets PMPID,
# START_SERVICES.
private_start_services() {
    local maps_re=$1 what=$2
    START_SERVICES=$SECONDS
    start_mock || return 1
    start_cluster || return 1
    PMPID=$(head -n 1 "$WORKDIR/data/postmaster.pid") || return 1
    if ! grep -q "$P_LIB/signicat.so" "/proc/$PMPID/maps" || ! grep -q "$maps_re" "/proc/$PMPID/maps"; then
        die "the postmaster ($PMPID) does not run $P_LIB/signicat.so $what"
        return 1
    fi
    log "postmaster $PMPID runs $P_BIN/postgres $what with $P_LIB/signicat.so (started in $((SECONDS - START_SERVICES)) s)"
}

# private_neutralise_rss TOOL: RSS readings mean nothing under TOOL (ASan's quarantine and redzones,
# valgrind's own memory). The memory test reads RSS from /proc/self/status to check that thousands of
# failing calls leave nothing behind: in the build copy only, that reading becomes a constant in the
# test and in its expected output alike, so the test still drives all those error paths but no
# longer judges RSS.
private_neutralise_rss() {
    local f
    for f in "$BUILD/sql/memory.sql" "$BUILD/expected/memory.out"; do
        if [[ -f $f ]]; then
            sed -i "s|pg_read_file('/proc/self/status')|'VmRSS: 0 kB' /* $1: RSS not checked */|" "$f" ||
                return 1
        fi
    done
}

# private_regress_tests [SKIP...]: print (space-separated) every test of the Makefile's REGRESS, in
# its order, except the tests named SKIP.
private_regress_tests() {
    local all t keep=()
    # shellcheck disable=SC2016  # $(REGRESS) is make's, not the shell's
    all=$(make -C "$BUILD" -s --no-print-directory PG_CONFIG="$PG_CONFIG" -f Makefile \
        -f <(printf 'print-regress:\n\t@echo $(REGRESS)\n') print-regress) || return 1
    for t in $all; do
        [[ " $* " == *" $t "* ]] || keep+=("$t")
    done
    echo "${keep[*]}"
}

# private_installcheck TEST...: run `make installcheck REGRESS='TEST...'` in $BUILD against the
# cluster, output shown and kept in $OUT/installcheck.log. Sets SUITE_PASSED and SUITE_FAILED (tests
# "... ok" and "... FAILED"; SUITE_FAILED is at least 1 when make failed) and SUITE_SECONDS; shows
# the start of regression.diffs when something failed.
private_installcheck() {
    local rc=0 start=$SECONDS
    make -C "$BUILD" PG_CONFIG="$PG_CONFIG" REGRESS="$*" installcheck 2>&1 |
        tee "$OUT/installcheck.log" || rc=$?
    SUITE_SECONDS=$((SECONDS - start))
    SUITE_PASSED=$(grep -Ec '\.\.\. ok( |$)' "$OUT/installcheck.log" || true)
    SUITE_FAILED=$(grep -Ec '\.\.\. FAILED( |$)' "$OUT/installcheck.log" || true)
    if ((rc != 0 && SUITE_FAILED == 0)); then
        SUITE_FAILED=1                      # pg_regress (or make) failed before running tests
    fi
    if ((SUITE_FAILED > 0)) && [[ -f $BUILD/regression.diffs ]]; then
        log "regression.diffs (first 300 lines)"
        head -n 300 "$BUILD/regression.diffs"
    fi
    return 0
}

# private_stop_cluster SECONDS: stop the cluster now, so that every process exits (and its tool
# writes its reports) and the server log is complete: a fast shutdown of at most SECONDS, else an
# immediate one (a fast shutdown right after a crash can wait for the restarting server).
private_stop_cluster() {
    if ! as_pg "$PG_BINDIR/pg_ctl" -D "$WORKDIR/data" -m fast -s -w -t "$1" stop >/dev/null 2>&1; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$WORKDIR/data" -m immediate -s -w stop >/dev/null 2>&1 || true
    fi
}

# test_of_pid PID: the application_name (pg_regress/<test>) of the connection served by server
# process PID, from the server log (the scripts set log_connections = on and log_line_prefix with
# [%p]); empty for a process that served no connection (a background worker).
test_of_pid() {
    sed -nE "s/.*\[$1\] LOG:  connection authorized: .*application_name=([^ ]+).*/\1/p" "$PGLOG" |
        head -n 1
}

# private_crashes: set CRASHES to the number of crashed server processes in $PGLOG (a signal, a
# non-zero exit of a backend, a PANIC or a failed assertion) and list them with their tests.
private_crashes() {
    local re='terminated by signal|server process \(PID [0-9]+\) exited with exit code|PANIC:|TRAP:'
    local line pid
    CRASHES=$(grep -Ec "$re" "$PGLOG" || true)
    if ((CRASHES > 0)); then
        log "crashed server processes in $PGLOG:"
        grep -E "$re" "$PGLOG" | while IFS= read -r line; do
            pid=$(sed -nE 's/.*\(PID ([0-9]+)\).*/\1/p' <<<"$line")
            echo "$line${pid:+   [$(test_of_pid "$pid")]}"
        done
    fi
    return 0
}

# private_finish [COUNT...]: log the times and print the last line, "N passed, M failed": N is
# SUITE_PASSED, M is SUITE_FAILED + CRASHES + every COUNT (the script's own tool errors). Returns 0
# only when M is 0; make it the script's last command.
private_finish() {
    local failed=$((SUITE_FAILED + CRASHES)) n
    for n in "$@"; do
        failed=$((failed + n))
    done
    log "times: build+install $((START_SERVICES - START)) s, pg_regress $SUITE_SECONDS s, total $((SECONDS - START)) s"
    echo "$SUITE_PASSED passed, $failed failed"
    ((failed == 0))
}
