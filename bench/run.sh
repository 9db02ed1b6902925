#!/usr/bin/env bash
#
# bench/run.sh: the signicat benchmark.
#
# Installs what it needs (the test harness's packages, nginx), builds and installs the extension,
# starts nginx on a free loopback port serving canned Signicat answers (bench/nginx.conf.template),
# a listener that never answers (for cancel latency) and a throw-away cluster of the server to
# measure (PostgreSQL 15 by default; BENCH_PG or PG_CONFIG choose another) with signicat preloaded
# and pointed at nginx, then measures:
#   1. per-call overhead      assure_get_process and request() in one backend vs raw libcurl
#                             (bench/raw_get.c) over the same keep-alive GET, and vs the ceiling
#                             (bench/ceiling.c: the same GET plus jsonb_in in a backend, nothing else)
#   2. concurrency + token    8 backends x 5,000 calls at once after a fresh restart; token requests
#   3. worker throughput      20,000 watched processes polled by the background worker, then the
#                             same after emptying and vacuuming the table (SKIP without the worker)
#   4. memory                 backend RSS growth over 100,000 calls; 200,000-row listing rows/s
#                             and peak RSS growth
#   5. cancel latency         pg_cancel_backend on a request that is never answered, 5 times
#   6. instructions per call  raw_get, the ceiling function and assure_get_process under callgrind
#                             (a single-user backend): counts that do not depend on the machine's load
#   7. far upstream, row by row  500 assure_get_process calls in one statement against an upstream
#                             that answers after 50 ms (nginx's echo_sleep): the sequential baseline
#   9. far upstream, worker   5,000 due processes polled by the worker with poll_connections = 64
#                             (and 256) against that upstream; nginx's own count of open connections
#   8. far upstream, bulk     the same 500 calls through signicat.call_many, 32 at once
#  10. loopback, bulk         20,000 calls through call_many against the same calls row by row;
#                             peak RSS growth over 100,000 calls; statement_timeout ending a batch
# and prints a table "figure | value | target | result", also written to bench/results.json.
#
# Exit status: 0 once the setup worked, whatever the figures (a FAIL is a finding, not a crash);
# non-zero only when the setup (packages, build, nginx, cluster) failed.
# Stops everything it started on exit.
#
# Environment:
#   BENCH_PG=MAJOR         the server to measure, as test/run.sh gets it (test/pg_versions.sh: 15 from
#                          Debian's packages, 18 built from Debian's source package once); or
#   PG_CONFIG=...          the pg_config of any server (one built from source, say); its --bindir
#                          gives the server binaries (default: PostgreSQL 15)
#   BENCH_RESULTS=FILE     where the JSON results go (default bench/results.json)
#   BENCH_SKIP_BUILD=1     use the installed extension, do not run make clean/make/make install
#   BENCH_ROUNDS=N         rounds of figure 1, best of N is reported (default 5)
#   BENCH_PIN=1            figure 1 with nginx's worker pinned to CPU 0, raw_get and the measured
#                          backend to CPU 1 (default: not pinned, the scheduler places them)
#   BENCH_ONLY=REGEX       only the figures whose function matches (e.g. far: figures 7 and 9)
#   BENCH_EXTRA_PG_CONF    more postgresql.conf lines (e.g. settings the background worker needs)
#   KEEP_WORKDIR=1         keep the temporary directory (cluster, nginx logs) for a post-mortem
#   and those of test/lib.sh (PG_CONFIG, PG_BINDIR, ...)

# shellcheck disable=SC2317  # functions run through traps, run_section and $(...)
set -euo pipefail
umask 022

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/lib.sh
source "$BENCH_DIR/../test/lib.sh"

# ---- sizes ----
CALLS=20000                 # figure 1, per run
ROUNDS=${BENCH_ROUNDS:-5}   # figure 1, best of
CONC_CLIENTS=8              # figure 2
CONC_CALLS=5000             # figure 2, per client
WORKER_ROWS=20000           # figure 3
WORKER_TIMEOUT=300          # figure 3, seconds before giving up
MEM_WARMUP=1000             # figure 4
MEM_CALLS=100000            # figure 4
LIST_ROWS=200000            # figure 4 (pages are generated for exactly this)
LIST_PAGE=2000              # figure 4
CANCEL_REPEATS=5            # figure 5
INSTR_WARMUP=100            # figure 6, calls of the short run
INSTR_CALLS=1000            # figure 6, more calls in the long run
FAR_DELAY_MS=50             # figures 7 and 9: the far upstream's delay (echo_sleep in nginx.conf)
FAR_CALLS=500               # figure 7
FAR_WORKER_ROWS=5000        # figure 9
FAR_BULK_CONCURRENCY=32     # figure 8
BULK_LOOPBACK_CALLS=20000   # figure 10
BULK_MEMORY_CALLS=100000    # figure 10, memory
BULK_TIMEOUT_MS=300         # figure 10, statement_timeout
QUEUE_ROWS=20000            # figure 11, requests queued in one transaction
QUEUE_FAR_CONNECTIONS=64    # figure 11, signicat.poll_connections against the far upstream

# ---- targets ----
TARGET_RATIO=0.9            # extension calls/s >= 0.9 x raw libcurl
TARGET_TOKENS=1             # token requests during figure 2
TARGET_WORKER_RATE=5000     # polls/s
TARGET_RSS_GROWTH_KB=1024   # over MEM_CALLS calls
TARGET_LIST_GROWTH_KB=65536 # peak growth during the listing
TARGET_CANCEL_MS=100        # max over CANCEL_REPEATS
TARGET_FAR_WORKER_SHARE=0.8 # figure 9: of the ideal poll_connections / FAR_DELAY_MS
TARGET_BULK_GROWTH_KB=32768 # figure 10: peak RSS growth of BULK_MEMORY_CALLS calls beyond the input's
TARGET_QUEUE_RATE=2000      # figure 11, loopback: requests/s from the commit to the last outcome
TARGET_QUEUE_FAR_SHARE=0.8  # figure 11, far: of the ideal poll_connections / FAR_DELAY_MS

CLK_TCK=$(getconf CLK_TCK)
PIN_SERVER=     # figure 1: CPU for nginx's worker
PIN_CLIENT=     # figure 1: CPU for raw_get and the measured backend
if [[ ${BENCH_PIN:-0} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null 2>&1 &&
   command -v pgrep >/dev/null 2>&1; then
    PIN_SERVER=0
    PIN_CLIENT=1
fi

# Fixed ids: the canned answer does not depend on them.
DOSSIER=6c1f5a52-8e0b-4a43-9d3c-2a7b51e9f0d4
PROCESS=5f0e7c1a-3b2d-4c8e-9a61-0d2f4b7e8c93

NGINX_PREFIX=
NGINX_PORT=
NGINX_PID=
HANG_PID=
BG_PIDS=()

# ---- cleanup ----

bench_cleanup() {
    local rc=$? pid i
    for pid in "${BG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    if [[ -n $NGINX_PID ]]; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true     # fast shutdown of master and worker
        for ((i = 0; i < 50; i++)); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=
    fi
    if [[ -n $HANG_PID ]]; then
        kill -TERM "$HANG_PID" 2>/dev/null || true
        wait "$HANG_PID" 2>/dev/null || true
        HANG_PID=
    fi
    stop_all || true
    exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers ----

# psql_q: psql against the bench cluster, unaligned, tuples only, stop at the first error.
psql_q() {
    "$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

# now_s: wall clock in seconds with fractions.
now_s() {
    date +%s.%N
}

# calc EXPR: floating point arithmetic (python3 is there anyway).
calc() {
    python3 -c "print($1)"
}

# record KEY FIGURE VALUE NUMBER UNIT TARGET STATUS [DETAILS-JSON]: one row of the results table.
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:-{\}}" \
        >>"$WORKDIR/results.tsv"
}

# pass_if CONDITION-EXPR: PASS or FAIL from a python expression.
pass_if() {
    python3 -c "print('PASS' if ($1) else 'FAIL')"
}

# run_section NAME FUNCTION: run a measurement in a subshell with set -e in force; a failure is
# recorded as an ERROR row and the benchmark goes on.
run_section() {
    local name=$1 fn=$2 rc
    if [[ -n ${BENCH_ONLY:-} && ! $fn =~ $BENCH_ONLY ]]; then
        return 0
    fi
    log "figure: $name"
    set +e
    (set -e; "$fn")
    rc=$?
    set -e
    if ((rc != 0)); then
        log "figure '$name' failed (status $rc), see the output above"
        record "$fn" "$name" "error (status $rc)" "" "" "" "ERROR"
    fi
    return 0
}

# restart_cluster: fast restart, so shared memory (the token) starts empty.
restart_cluster() {
    as_pg "$PG_BINDIR/pg_ctl" -D "$WORKDIR/data" -m fast -w -t 60 -s -l "$WORKDIR/postgres.log" restart
    psql_q -c 'SELECT 1' >/dev/null
}

token_count() {
    wc -l <"$NGINX_PREFIX/token.log" | tr -d ' '
}

# ---- setup ----

setup_packages() {
    ensure_packages
    if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
        log "installing nginx"
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y nginx ||
            { _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update &&
              _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y nginx; }
    fi
    NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
    ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so     # echo_sleep: the far upstream
    if [[ ! -f $ECHO_MODULE ]]; then
        log "installing libnginx-mod-http-echo"
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y libnginx-mod-http-echo ||
            { _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update &&
              _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y libnginx-mod-http-echo; }
    fi
    if ! command -v valgrind >/dev/null 2>&1; then     # figure 6; without it the figure is skipped
        log "installing valgrind"
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y valgrind || true
    fi
}

# The listing's pages: page_<offset>.json for every offset the extension asks for.
generate_pages() {
    log "generating $((LIST_ROWS / LIST_PAGE)) list pages of $LIST_PAGE processes"
    python3 - "$NGINX_PREFIX/html/pages" "$LIST_ROWS" "$LIST_PAGE" <<'EOF'
import json, os, sys, uuid
out, total, page = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
statuses = ("accepted", "rejected", "inconclusive", "processing", "pending")
providers = ("onfido", "readid", "signicatpaper", "eid")
for offset in range(0, total, page):
    items = []
    for i in range(offset, min(offset + page, total)):
        pid = str(uuid.UUID(int=(0x5f0e7c1a << 96) + i))
        did = str(uuid.UUID(int=(0x6c1f5a52 << 96) + i // 3))
        provider = providers[i % len(providers)]
        items.append({
            "processId": pid,
            "dossier": {"dossierId": did},
            "provider": provider,
            "status": statuses[i % len(statuses)],
            "processType": "document",
            "createdAt": "2026-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
                1 + i % 12, 1 + i % 28, i % 24, i % 60, (i // 60) % 60, i % 1000),
            "updatedAt": "2026-11-20T09:15:47.208Z",
            "externalId": "%s-%s" % (provider, pid[:8]),
        })
    with open(os.path.join(out, "page_%d.json" % offset), "w") as f:
        json.dump({"processes": items, "totalResults": total}, f, separators=(",", ":"))
EOF
}

# A loopback listener that accepts connections and never answers: the upstream of /hang.
start_hang_listener() {
    local port_file=$WORKDIR/hang.port i
    python3 - "$port_file" >"$WORKDIR/hang.log" 2>&1 </dev/null <<'EOF' &
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    conn, _ = s.accept()
    held = held[-1000:] + [conn]     # keep them open, say nothing
EOF
    HANG_PID=$!
    for ((i = 0; i < 100; i++)); do
        [[ -s $port_file ]] && break
        kill -0 "$HANG_PID" 2>/dev/null || { cat "$WORKDIR/hang.log" >&2; die "hang listener exited"; return 1; }
        sleep 0.1
    done
    [[ -s $port_file ]] || { die "hang listener did not start"; return 1; }
    HANG_PORT=$(cat "$port_file")
}

start_nginx() {
    local i code
    NGINX_PREFIX=$WORKDIR/nginx
    mkdir -p "$NGINX_PREFIX/html" "$NGINX_PREFIX/tmp"
    : >"$NGINX_PREFIX/token.log"
    generate_pages
    start_hang_listener
    NGINX_PORT=$(_free_port)
    FAR_PORT=$(_free_port)
    sed -e "s|@PREFIX@|$NGINX_PREFIX|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@HANG_PORT@|$HANG_PORT|g" \
        -e "s|@FAR_PORT@|$FAR_PORT|g" -e "s|@ECHO_MODULE@|$ECHO_MODULE|g" \
        "$BENCH_DIR/nginx.conf.template" >"$NGINX_PREFIX/nginx.conf"
    log "starting nginx on 127.0.0.1:$NGINX_PORT (prefix $NGINX_PREFIX)"
    "$NGINX_BIN" -q -t -p "$NGINX_PREFIX" -e "$NGINX_PREFIX/error.log" -c "$NGINX_PREFIX/nginx.conf" ||
        { cat "$NGINX_PREFIX/error.log" >&2 || true; die "nginx configuration test failed"; return 1; }
    "$NGINX_BIN" -p "$NGINX_PREFIX" -e "$NGINX_PREFIX/error.log" -c "$NGINX_PREFIX/nginx.conf" \
        </dev/null >"$NGINX_PREFIX/nginx.out" 2>&1 &
    NGINX_PID=$!
    for ((i = 0; i < 50; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
                    "http://127.0.0.1:$NGINX_PORT/assure/dossiers/$DOSSIER/processes/$PROCESS" || true)
        [[ $code == 200 ]] && break
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    [[ $code == 200 ]] || { cat "$NGINX_PREFIX/error.log" >&2 || true; die "nginx does not answer"; return 1; }
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/assure/processes?offset=$((LIST_ROWS - LIST_PAGE))&limit=$LIST_PAGE")
    [[ $code == 200 ]] || { die "nginx does not serve the list pages (HTTP $code)"; return 1; }
    code=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' \
                "http://127.0.0.1:$FAR_PORT/assure/dossiers/$DOSSIER/processes/$PROCESS")
    [[ $code == "200 "* ]] || { die "the far upstream does not answer (HTTP $code)"; return 1; }
    log "far upstream on 127.0.0.1:$FAR_PORT answers in ${code#* } s"
    : >"$NGINX_PREFIX/token.log"
}

start_bench_cluster() {
    MOCK_URL="http://127.0.0.1:$NGINX_PORT"     # start_cluster's default signicat.* settings
    export MOCK_URL
    # shellcheck disable=SC2089,SC2090  # postgresql.conf text, not a command line
    EXTRA_PG_CONF="signicat.base_url = '$MOCK_URL'
signicat.token_url = '$MOCK_URL/auth/open/connect/token'
shared_preload_libraries = '$PRELOAD_LIBRARIES'
${BENCH_EXTRA_PG_CONF:-}"
    # shellcheck disable=SC2090
    export EXTRA_PG_CONF
    start_cluster
    psql_q <<'EOF'
CREATE EXTENSION signicat;
-- a field of the backend's own /proc/self/status, in kB (superuser may read any file)
CREATE FUNCTION public.bench_proc_kb(field text) RETURNS bigint LANGUAGE sql VOLATILE AS
$$ SELECT (regexp_match(pg_read_file('/proc/self/status'), field || ':\s+(\d+)'))[1]::bigint $$;
-- user + system CPU time of the backend itself, in clock ticks (fields 14 and 15 of /proc/self/stat)
CREATE FUNCTION public.bench_cpu_ticks() RETURNS bigint LANGUAGE sql VOLATILE AS
$$ SELECT f[12]::bigint + f[13]::bigint
   FROM (SELECT string_to_array(substr(s, strpos(s, ') ') + 2), ' ') AS f
         FROM pg_read_file('/proc/self/stat') AS s) AS stat $$;
CREATE TABLE public.bench_cancel_sent (run int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE public.bench_cancel_caught (run int PRIMARY KEY, at timestamptz NOT NULL);
EOF
    # the ceiling of figure 1 (bench/ceiling.c, built next to raw_get)
    psql_q -c "CREATE FUNCTION public.bench_ceiling_get(url text) RETURNS jsonb
                   AS '$WORKDIR/ceiling.so', 'bench_ceiling_get' LANGUAGE C STRICT"
}

# ---- figure 1: per-call overhead ----

# ext_rate SQL-CALL: "calls/s|CPU us per call" of CALLS evaluations of SQL-CALL in one fresh
# backend, after 100 untimed calls (library load, connection). The CPU time is the backend's own
# (user + system, from /proc/self/stat, in clock ticks): unlike calls/s it hardly depends on how
# the scheduler places the backend and nginx on the cores.
ext_rate() {
    local call=$1
    psql_q <<EOF
$(pin_backend_psql)
SELECT count($call) FROM generate_series(1, 100) \g /dev/null
SELECT bench_cpu_ticks() AS c0, extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count($call) FROM generate_series(1, $CALLS) \g /dev/null
SELECT round(($CALLS / (extract(epoch FROM clock_timestamp()) - :t0))::numeric, 1),
       round(((bench_cpu_ticks() - :c0) * 1e6 / $CLK_TCK / $CALLS)::numeric, 2);
EOF
}

# jsonb_rate FILE: conversions/s of the JSON text in FILE to jsonb in plain SQL (jsonb_in, no
# HTTP): the part of each call PostgreSQL itself needs to hand the answer over as jsonb.
# The appended 0 or 1 space keeps the planner from folding the cast into a constant.
jsonb_rate() {
    psql_q -v doc="$(cat "$1")" <<EOF
$(pin_backend_psql)
SELECT count((:'doc' || repeat(' ', i % 2))::jsonb) FROM generate_series(1, 100) i \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count((:'doc' || repeat(' ', i % 2))::jsonb) FROM generate_series(1, $CALLS) i \g /dev/null
SELECT round(($CALLS / (extract(epoch FROM clock_timestamp()) - :t0))::numeric, 1);
EOF
}

# pin_backend_psql: psql lines that pin the session's backend to PIN_CLIENT (none if not pinning).
pin_backend_psql() {
    [[ -n $PIN_CLIENT ]] || return 0
    printf '%s\n' 'SELECT pg_backend_pid() AS bench_bpid \gset' '\setenv BENCH_BPID :bench_bpid' \
        "\\! taskset -pc $PIN_CLIENT \$BENCH_BPID >/dev/null"
}

# pin_nginx CPU|"": move nginx's worker to CPU, or back to every CPU.
pin_nginx() {
    local pid cpus=${1:-0-$(($(nproc) - 1))}
    for pid in $(pgrep -P "$NGINX_PID"); do
        taskset -pc "$cpus" "$pid" >/dev/null
    done
}

# raw_rate [--mode ext] URL: "calls/s|CPU us per call" of raw_get over CALLS calls.
raw_rate() {
    local out pin=()
    [[ -z $PIN_CLIENT ]] || pin=(taskset -c "$PIN_CLIENT")
    out=$("${pin[@]}" "$WORKDIR/raw_get" "$@" "$CALLS" 2>/dev/null)
    printf '%s|%s\n' "$(awk '/^rate /{print $2}' <<<"$out")" "$(awk '/^cpu_us /{print $2}' <<<"$out")"
}

figure_per_call() {
    local url="http://127.0.0.1:$NGINX_PORT/assure/dossiers/$DOSSIER/processes/$PROCESS"
    local get="signicat.assure_get_process('$DOSSIER', '$PROCESS')"
    local req="signicat.request('GET', '/assure/dossiers/$DOSSIER/processes/$PROCESS')"
    local ceil="bench_ceiling_get('$url')"
    local doc=$WORKDIR/process.json r v c status ratio of_ceiling name
    # best of ROUNDS: highest rate, lowest CPU per call, separately
    declare -A rate=([raw]=0 [rawext]=0 [get]=0 [req]=0 [ceil]=0 [jsonb]=0)
    declare -A cpu=([raw]=1e9 [rawext]=1e9 [get]=1e9 [req]=1e9 [ceil]=1e9)

    # the same answer both ways
    v=$(psql_q -c "SELECT $get = $req AND $get = $ceil AND ($get ->> 'status') = 'accepted'")
    [[ $v == t ]] || { echo "assure_get_process, request() and the ceiling disagree or fail: $v" >&2; return 1; }
    curl -fsS -o "$doc" "$url"
    if [[ -n $PIN_SERVER ]]; then
        log "pinning: nginx worker on CPU $PIN_SERVER, raw_get and the measured backend on CPU $PIN_CLIENT"
        pin_nginx "$PIN_SERVER"
    fi

    for ((r = 1; r <= ROUNDS; r++)); do
        for name in raw get req ceil rawext jsonb; do
            case $name in
                raw) v=$(raw_rate "$url") ;;
                rawext) v=$(raw_rate --mode ext "$url") ;;
                get) v=$(ext_rate "$get") ;;
                req) v=$(ext_rate "$req") ;;
                ceil) v=$(ext_rate "$ceil") ;;
                jsonb) v="$(jsonb_rate "$doc")|" ;;
            esac
            IFS='|' read -r v c <<<"$v"
            [[ -n $v ]] || { echo "no rate for $name" >&2; return 1; }
            rate[$name]=$(calc "max(${rate[$name]}, $v)")
            [[ -z $c ]] || cpu[$name]=$(calc "min(${cpu[$name]}, $c)")
        done
        log "round $r, best so far: raw ${rate[raw]}/s ${cpu[raw]} us," \
            "raw with the extension's libcurl pattern ${rate[rawext]}/s ${cpu[rawext]} us," \
            "assure_get_process ${rate[get]}/s ${cpu[get]} us, request ${rate[req]}/s ${cpu[req]} us," \
            "ceiling ${rate[ceil]}/s ${cpu[ceil]} us, jsonb_in alone ${rate[jsonb]}/s"
    done
    [[ -z $PIN_SERVER ]] || pin_nginx ""

    record raw_libcurl "1. raw libcurl (raw_get.c), 1 connection" \
        "$(printf '%.0f calls/s; CPU %.1f us/call' "${rate[raw]}" "${cpu[raw]}")" \
        "${rate[raw]}" "calls/s" "floor" "-" "{\"cpu_us_per_call\": ${cpu[raw]}}"
    for name in get req; do
        ratio=$(calc "round(${rate[$name]} / ${rate[raw]}, 3)")
        of_ceiling=$(calc "round(${rate[$name]} / ${rate[ceil]}, 3)")
        status=$(pass_if "$ratio >= $TARGET_RATIO")
        if [[ $name == get ]]; then
            set -- get_process_rate "1. assure_get_process, 1 backend"
        else
            set -- request_rate "1. request('GET', ...), 1 backend"
        fi
        record "$1" "$2" \
            "$(printf '%.0f calls/s (%.2fx raw, %.2fx ceiling); CPU %.1f us/call (+%.1f)' "${rate[$name]}" \
                      "$ratio" "$of_ceiling" "${cpu[$name]}" "$(calc "${cpu[$name]} - ${cpu[raw]}")")" \
            "${rate[$name]}" "calls/s" ">= ${TARGET_RATIO}x raw" "$status" \
            "{\"ratio_to_raw\": $ratio, \"ratio_to_ceiling\": $of_ceiling, \"cpu_us_per_call\": ${cpu[$name]}}"
    done
    record raw_libcurl_ext_pattern "1. raw libcurl, extension's pattern (reset+multi)" \
        "$(printf '%.0f calls/s (%.2fx raw); CPU %.1f us/call' "${rate[rawext]}" \
                  "$(calc "${rate[rawext]} / ${rate[raw]}")" "${cpu[rawext]}")" \
        "${rate[rawext]}" "calls/s" "info" "-" "{\"cpu_us_per_call\": ${cpu[rawext]}}"
    record jsonb_in_rate "1. jsonb_in of the same answer, SQL only" \
        "$(printf '%.0f/s (%.1f us each)' "${rate[jsonb]}" "$(calc "1e6 / ${rate[jsonb]}")")" \
        "${rate[jsonb]}" "per s" "info" "-"
    # a perfect extension: the raw transfer plus one jsonb_in in a backend, nothing else
    record ceiling_rate "1. ceiling: bench/ceiling.c, GET + jsonb_in" \
        "$(printf '%.0f calls/s (%.2fx raw); CPU %.1f us/call (+%.1f)' "${rate[ceil]}" \
                  "$(calc "${rate[ceil]} / ${rate[raw]}")" "${cpu[ceil]}" "$(calc "${cpu[ceil]} - ${cpu[raw]}")")" \
        "${rate[ceil]}" "calls/s" "info" "-" \
        "{\"ratio_to_raw\": $(calc "round(${rate[ceil]} / ${rate[raw]}, 3)"), \"cpu_us_per_call\": ${cpu[ceil]}}"
}

# ---- figure 2: concurrency and token sharing ----

figure_concurrency() {
    local get="signicat.assure_get_process('$DOSSIER', '$PROCESS')"
    local i t0 t1 tokens rate ok=1 pids=() out

    : >"$NGINX_PREFIX/token.log"
    restart_cluster
    t0=$(now_s)
    for ((i = 1; i <= CONC_CLIENTS; i++)); do
        psql_q -c "SELECT count($get) FROM generate_series(1, $CONC_CALLS)" \
            >"$WORKDIR/conc.$i.out" 2>&1 &
        pids+=($!)
        BG_PIDS+=($!)
    done
    for ((i = 0; i < CONC_CLIENTS; i++)); do
        wait "${pids[$i]}" || ok=0
    done
    t1=$(now_s)
    for ((i = 1; i <= CONC_CLIENTS; i++)); do
        out=$(cat "$WORKDIR/conc.$i.out")
        if [[ $out != "$CONC_CALLS" ]]; then
            echo "client $i: $out" >&2
            ok=0
        fi
    done
    ((ok)) || return 1
    rate=$(calc "$CONC_CLIENTS * $CONC_CALLS / ($t1 - $t0)")
    tokens=$(token_count)
    record concurrent_rate "2. $CONC_CLIENTS backends x $CONC_CALLS calls, aggregate" \
        "$(printf '%.0f calls/s' "$rate")" "$rate" "calls/s" "info" "-"
    record token_requests "2. token requests (fresh restart, whole figure)" "$tokens" "$tokens" "requests" \
        "= $TARGET_TOKENS" "$(pass_if "$tokens == $TARGET_TOKENS")"
}

# ---- figure 3: background worker throughput ----

# worker_pass LABEL KEY [MIN_RATE TARGET_TEXT]: enrol WORKER_ROWS due processes and time the
# worker until it has polled
# them all and written their status; one row of the table. All in one session: progress is the
# worker's own counter (signicat.worker_counters(), shared memory), checked every 10 ms by a DO
# loop, so that measuring costs the 2 cores next to nothing (a count(*) over the table from a new
# psql every 50 ms took a good part of one); the rows are checked once at the end.
worker_pass() {
    local label=$1 key=$2 min_rate=${3:-$TARGET_WORKER_RATE}
    local target=${4:-">= $TARGET_WORKER_RATE polls/s, 0 errors"} out n secs rate errs status
    out=$(psql_q <<EOF
SELECT set_config('bench.polled_target', (coalesce(sum(polled), 0) + $WORKER_ROWS)::text, false)
FROM signicat.worker_counters() WHERE database = current_database() \g /dev/null
SELECT count(signicat.watch_add('assure_process', gen_random_uuid(), gen_random_uuid()))
FROM generate_series(1, $WORKER_ROWS) \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
DO \$\$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '$WORKER_TIMEOUT seconds';
BEGIN
    WHILE (SELECT coalesce(sum(polled), 0) FROM signicat.worker_counters()
           WHERE database = current_database()) < current_setting('bench.polled_target')::bigint
          AND clock_timestamp() < deadline LOOP
        PERFORM pg_sleep(0.01);
    END LOOP;
END
\$\$;
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS secs \gset
SELECT count(*) FILTER (WHERE last_polled_at IS NOT NULL AND status IS NOT NULL),
       count(*) FILTER (WHERE errors > 0 OR last_error IS NOT NULL), :secs,
       round((extract(epoch FROM min(last_polled_at)) - :t0)::numeric, 3),
       round(extract(epoch FROM max(last_polled_at) - min(last_polled_at))::numeric, 3)
FROM signicat.watch;
EOF
)
    IFS='|' read -r n errs secs first spread <<<"$out"
    log "$label: first poll recorded $first s after the rows were due, the last $spread s after the first"
    [[ $n =~ ^[0-9]+$ && $errs =~ ^[0-9]+$ ]] || { echo "bad worker figures: $out" >&2; return 1; }
    rate=$(calc "$n / $secs")
    status=$(pass_if "$n >= $WORKER_ROWS and $rate >= $min_rate and $errs == 0")
    record "$key" "$label" \
        "$(printf '%.0f polls/s (%d polled in %.1f s, %d errors)' "$rate" "$n" "$secs" "$errs")" "$rate" "polls/s" \
        "$target" "$status"
    WORKER_PASS_RATE=$rate
}

figure_worker() {
    if [[ $(psql_q -c "SELECT to_regprocedure('signicat.worker_counters()') IS NOT NULL") != t ]]; then
        log "signicat.worker_counters() does not exist: SKIP"
        record worker_rate "3. worker polls ($WORKER_ROWS due rows)" "not available" "" "polls/s" \
            ">= $TARGET_WORKER_RATE polls/s, 0 errors" "SKIP"
        return 0
    fi
    # a worker for this database (start_worker() returns NULL when one runs already, e.g. from
    # signicat.worker_databases in BENCH_EXTRA_PG_CONF)
    log "worker pid: $(psql_q -c "SELECT coalesce(signicat.start_worker()::text, 'already running')")"
    psql_q -c "DELETE FROM signicat.watch" >/dev/null
    worker_pass "3. worker polls ($WORKER_ROWS due rows)" worker_rate
    # The same after the table was emptied and vacuumed (what a job trimming finished items does):
    # the planner statistics then say "no rows" while the table fills up again.
    psql_q -c "DELETE FROM signicat.watch" -c "VACUUM signicat.watch, signicat.status_history" >/dev/null
    # Target: no collapse, at least half the first pass (it once fell to 1/18 of it).
    worker_pass "3. worker polls, table emptied + vacuumed first" worker_rate_refill \
        "$(calc "$WORKER_PASS_RATE / 2")" ">= 0.5x the first pass, 0 errors"
}

# ---- figures 7 and 9: a far upstream (50 ms per answer) ----

figure_far_row_by_row() {
    local secs rate ideal
    secs=$(psql_q <<EOF
SET signicat.base_url = 'http://127.0.0.1:$FAR_PORT';
SELECT signicat.assure_get_process(gen_random_uuid(), gen_random_uuid()) IS NOT NULL \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(signicat.assure_get_process(gen_random_uuid(), gen_random_uuid()))
FROM generate_series(1, $FAR_CALLS) \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) - :t0;
EOF
)
    rate=$(calc "$FAR_CALLS / $secs")
    echo "$secs" >"$WORKDIR/far_row_by_row.secs"     # figure 8's baseline
    ideal=$(calc "$FAR_CALLS * $FAR_DELAY_MS / 1000")
    record far_row_by_row "7. far upstream: $FAR_CALLS calls row by row" \
        "$(printf '%.1f s, %.1f calls/s (one after another: %.0f s at least)' "$secs" "$rate" "$ideal")" \
        "$secs" "s" "info (the baseline of the bulk call)" "-"
}

# figure 8: the bulk call against the far upstream (figure 7's statement, through call_many)
figure_far_bulk() {
    local out n secs ideal row_secs speedup status
    out=$(psql_q <<EOF
SET signicat.base_url = 'http://127.0.0.1:$FAR_PORT';
SET signicat.bulk_concurrency = $FAR_BULK_CONCURRENCY;
SELECT count(*) FROM signicat.call_many('assure_get_process',
    (SELECT array_agg(jsonb_build_object('dossier_id', gen_random_uuid(), 'process_id', gen_random_uuid()))
     FROM generate_series(1, $FAR_BULK_CONCURRENCY))) \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) FILTER (WHERE result IS NOT NULL) FROM signicat.call_many('assure_get_process',
    (SELECT array_agg(jsonb_build_object('dossier_id', gen_random_uuid(), 'process_id', gen_random_uuid()))
     FROM generate_series(1, $FAR_CALLS)));
SELECT extract(epoch FROM clock_timestamp()) - :t0;
EOF
)
    n=$(sed -n 1p <<<"$out")
    secs=$(sed -n 2p <<<"$out")
    ideal=$(calc "-(-$FAR_CALLS // $FAR_BULK_CONCURRENCY) * $FAR_DELAY_MS / 1000")
    row_secs=$(cat "$WORKDIR/far_row_by_row.secs" 2>/dev/null || echo 0)
    speedup=$(calc "$row_secs / $secs if $row_secs else 0")
    status=$(pass_if "$n == $FAR_CALLS and $secs <= 1.5 * $ideal and ($row_secs == 0 or $speedup >= 20)")
    record far_bulk "8. far upstream: $FAR_CALLS calls through call_many, $FAR_BULK_CONCURRENCY at once" \
        "$(printf '%.2f s (%d answered; %s row by row; ideal %.2f s)' "$secs" "$n" \
                  "$( [[ $row_secs == 0 ]] && echo 'figure 7 not run: no ratio to' || printf '%.1fx' "$speedup")" "$ideal")" \
        "$secs" "s" "$(printf '>= 20x row by row, <= 1.5x ideal (%.2f s)' "$(calc "1.5 * $ideal")")" "$status"
}

# figure 10: the bulk call on loopback, against the same calls row by row
figure_loopback_bulk() {
    local out single bulk ratio
    out=$(psql_q <<EOF
SELECT count(signicat.assure_get_process(gen_random_uuid(), gen_random_uuid())) FROM generate_series(1, 200) \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(signicat.assure_get_process(gen_random_uuid(), gen_random_uuid())) FROM generate_series(1, $BULK_LOOPBACK_CALLS) \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) AS t1 \gset
SELECT count(*) FILTER (WHERE result IS NOT NULL) FROM signicat.call_many('assure_get_process',
    (SELECT array_agg(jsonb_build_object('dossier_id', gen_random_uuid(), 'process_id', gen_random_uuid()))
     FROM generate_series(1, $BULK_LOOPBACK_CALLS))) \g /dev/null
SELECT $BULK_LOOPBACK_CALLS / (:t1 - :t0), $BULK_LOOPBACK_CALLS / (extract(epoch FROM clock_timestamp()) - :t1);
EOF
)
    IFS='|' read -r single bulk <<<"$out"
    ratio=$(calc "$bulk / $single")
    record loopback_bulk "10. loopback: $BULK_LOOPBACK_CALLS calls through call_many (concurrency 16)" \
        "$(printf '%.0f calls/s against %.0f row by row (%.2fx)' "$bulk" "$single" "$ratio")" \
        "$bulk" "calls/s" ">= 1x row by row" "$(pass_if "$ratio >= 1")"
}

# figure 10, continued: memory over 100,000 calls, and statement_timeout ending a batch
figure_bulk_limits() {
    local out grown n late input
    out=$(psql_q <<EOF
SELECT public.bench_proc_kb('VmRSS') AS before \gset
SELECT count(*) FILTER (WHERE result IS NOT NULL) FROM signicat.call_many('assure_get_process',
    (SELECT array_agg(jsonb_build_object('dossier_id', gen_random_uuid(), 'process_id', gen_random_uuid()))
     FROM generate_series(1, $BULK_MEMORY_CALLS)));
SELECT public.bench_proc_kb('VmHWM') - :before;
EOF
)
    n=$(sed -n 1p <<<"$out")
    grown=$(sed -n 2p <<<"$out")
    # the same statement's input alone (the array of 100,000 calls), in a fresh session too
    input=$(psql_q <<EOF
SELECT public.bench_proc_kb('VmRSS') AS before \gset
SELECT cardinality((SELECT array_agg(jsonb_build_object('dossier_id', gen_random_uuid(), 'process_id', gen_random_uuid()))
                    FROM generate_series(1, $BULK_MEMORY_CALLS))) \g /dev/null
SELECT public.bench_proc_kb('VmHWM') - :before;
EOF
)
    record bulk_memory "10. call_many of $BULK_MEMORY_CALLS calls: backend peak RSS growth beyond its input's" \
        "$(printf '%d kB (%d kB in all, %d kB for the input array alone; %d answered)' "$((grown - input))" "$grown" "$input" "$n")" \
        "$((grown - input))" "kB" "< $TARGET_BULK_GROWTH_KB kB, all answered" \
        "$(pass_if "$grown - $input < $TARGET_BULK_GROWTH_KB and $n == $BULK_MEMORY_CALLS")"
    # statement_timeout during 5,000 calls to the far upstream, 64 at once: how late the statement ends
    late=$(psql_q -v ON_ERROR_STOP=0 2>/dev/null <<EOF
SET signicat.base_url = 'http://127.0.0.1:$FAR_PORT';
SET signicat.bulk_concurrency = 64;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SET statement_timeout = '${BULK_TIMEOUT_MS}ms';
SELECT count(*) FROM signicat.call_many('assure_get_process',
    (SELECT array_agg(jsonb_build_object('dossier_id', gen_random_uuid(), 'process_id', gen_random_uuid()))
     FROM generate_series(1, 5000)));
RESET statement_timeout;
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000 - $BULK_TIMEOUT_MS)::numeric, 1);
EOF
)
    record bulk_timeout "10. call_many ended by statement_timeout = ${BULK_TIMEOUT_MS}ms (5000 calls, 64 at once)" \
        "$(printf '%s ms after the timeout' "$late")" "$late" "ms" "< $TARGET_CANCEL_MS ms" \
        "$(pass_if "$late < $TARGET_CANCEL_MS")"
}

# far_connections_start / far_connections_stop: the most connections open to the far upstream
# in between (nginx's stub_status, sampled every 20 ms; the sampler's own one is not counted).
far_connections_start() {
    FAR_SAMPLES=$WORKDIR/far_connections.$1
    : >"$FAR_SAMPLES"
    (while :; do
        curl -s --max-time 1 "http://127.0.0.1:$FAR_PORT/nginx_status" |
            sed -n 's/^Active connections: *\([0-9]*\).*/\1/p' >>"$FAR_SAMPLES" || true
        sleep 0.02
    done) &
    FAR_SAMPLER_PID=$!
}
far_connections_stop() {
    kill "$FAR_SAMPLER_PID" 2>/dev/null || true
    wait "$FAR_SAMPLER_PID" 2>/dev/null || true
    python3 -c "import sys; v=[int(x) for x in open(sys.argv[1]) if x.strip()]; print(max(v) - 1 if v else -1)" \
        "$FAR_SAMPLES"
}

# far_worker_pass CONNECTIONS KEY LABEL MIN-SHARE: the worker polls FAR_WORKER_ROWS due processes
# with signicat.poll_connections = CONNECTIONS against the far upstream; a second row says how
# many connections nginx saw open at most.
far_worker_pass() {
    local conns=$1 key=$2 label=$3 share=$4 ideal want max_conns target
    psql_q -c "ALTER SYSTEM SET signicat.base_url = 'http://127.0.0.1:$FAR_PORT'" \
           -c "ALTER SYSTEM SET signicat.poll_connections = $conns" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1     # the worker reads its settings between rounds
    psql_q -c "DELETE FROM signicat.watch" >/dev/null
    ideal=$(calc "$conns * 1000 / $FAR_DELAY_MS")
    want=$(calc "$share * $ideal")
    if [[ $share == 0 ]]; then
        target="all polled, 0 errors (ideal $(printf '%.0f' "$ideal") polls/s: information)"
    else
        target=$(printf '>= %.0f%% of %d / %d ms: %.0f polls/s, 0 errors' "$(calc "$share * 100")" \
                        "$conns" "$FAR_DELAY_MS" "$want")
    fi
    far_connections_start "$conns"
    WORKER_ROWS=$FAR_WORKER_ROWS worker_pass "$label, poll_connections = $conns ($FAR_WORKER_ROWS due rows)" \
        "$key" "$want" "$target"
    max_conns=$(far_connections_stop)
    record "${key}_connections" "$label, poll_connections = $conns: connections at most (nginx)" \
        "$max_conns" "$max_conns" "connections" "<= $conns" "$(pass_if "0 < $max_conns <= $conns")"
}

figure_far_worker() {
    if [[ $(psql_q -c "SELECT to_regprocedure('signicat.worker_counters()') IS NOT NULL") != t ]]; then
        record far_worker "9. far upstream: worker polls" "not available" "" "polls/s" "" "SKIP"
        return 0
    fi
    psql_q -c "SELECT signicat.start_worker()" >/dev/null
    far_worker_pass 64 far_worker "9. far upstream: worker" "$TARGET_FAR_WORKER_SHARE"
    # 256: that it works and keeps to its connections; its rate is for information
    far_worker_pass 256 far_worker_256 "9. far upstream: worker" 0
    psql_q -c "ALTER SYSTEM RESET signicat.base_url" -c "ALTER SYSTEM RESET signicat.poll_connections" \
           -c "SELECT pg_reload_conf()" -c "DELETE FROM signicat.watch" >/dev/null
}

# ---- figure 11: the after-commit queue ----

# queue_pass LABEL KEY MIN_RATE TARGET: QUEUE_ROWS assure_get_process calls queued in one
# transaction (signicat.enqueue), then the time from just before its commit to the last outcome
# the worker recorded (max(finished_at)): every request sent, answered and written, with its
# NOTIFY. Progress is looked at every 10 ms through the queue's partial indexes (cheap).
queue_pass() {
    local label=$1 key=$2 min_rate=$3 target=$4 out n ok secs rate status
    out=$(psql_q <<EOF
DELETE FROM signicat.queue;
BEGIN;
SELECT count(signicat.enqueue('assure_get_process',
           jsonb_build_object('dossier_id', gen_random_uuid(), 'process_id', gen_random_uuid())))
FROM generate_series(1, $QUEUE_ROWS) \g /dev/null
SELECT clock_timestamp() AS t0 \gset
COMMIT;
DO \$\$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '$WORKER_TIMEOUT seconds';
BEGIN
    WHILE (EXISTS (SELECT FROM signicat.queue WHERE state = 'queued')
           OR EXISTS (SELECT FROM signicat.queue WHERE state = 'sending'))
          AND clock_timestamp() < deadline LOOP
        PERFORM pg_sleep(0.01);
    END LOOP;
END
\$\$;
SELECT count(*) FILTER (WHERE finished_at IS NOT NULL), count(*) FILTER (WHERE state = 'done'),
       extract(epoch FROM max(finished_at) - :'t0'::timestamptz)
FROM signicat.queue;
EOF
)
    IFS='|' read -r n ok secs <<<"$out"
    [[ $n =~ ^[0-9]+$ && $ok =~ ^[0-9]+$ ]] || { echo "bad queue figures: $out" >&2; return 1; }
    rate=$(calc "$n / $secs")
    status=$(pass_if "$n >= $QUEUE_ROWS and $ok == $n and $rate >= $min_rate")
    record "$key" "$label" \
        "$(printf '%.0f requests/s (%d of %d done in %.2f s from the commit)' "$rate" "$ok" "$QUEUE_ROWS" "$secs")" \
        "$rate" "requests/s" "$target" "$status"
}

figure_queue() {
    local ideal want
    if [[ $(psql_q -c "SELECT to_regprocedure('signicat.enqueue(text,jsonb)') IS NOT NULL") != t ]]; then
        record queue_rate "11. queue: $QUEUE_ROWS requests, commit to last outcome" "not available" "" \
            "requests/s" ">= $TARGET_QUEUE_RATE requests/s" "SKIP"
        return 0
    fi
    psql_q -c "SELECT signicat.start_worker()" >/dev/null
    queue_pass "11. queue: $QUEUE_ROWS requests, commit to last outcome (loopback, default poll_connections)" \
        queue_rate "$TARGET_QUEUE_RATE" ">= $TARGET_QUEUE_RATE requests/s, all done"
    ideal=$(calc "$QUEUE_FAR_CONNECTIONS * 1000 / $FAR_DELAY_MS")
    want=$(calc "$TARGET_QUEUE_FAR_SHARE * $ideal")
    psql_q -c "ALTER SYSTEM SET signicat.base_url = 'http://127.0.0.1:$FAR_PORT'" \
           -c "ALTER SYSTEM SET signicat.poll_connections = $QUEUE_FAR_CONNECTIONS" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1     # the worker reads its settings between steps
    queue_pass "11. far upstream: queue, poll_connections = $QUEUE_FAR_CONNECTIONS" queue_far_rate "$want" \
        "$(printf '>= %.0f%% of %d / %d ms: %.0f requests/s, all done' "$(calc "$TARGET_QUEUE_FAR_SHARE * 100")" \
                  "$QUEUE_FAR_CONNECTIONS" "$FAR_DELAY_MS" "$want")"
    psql_q -c "ALTER SYSTEM RESET signicat.base_url" -c "ALTER SYSTEM RESET signicat.poll_connections" \
           -c "SELECT pg_reload_conf()" -c "DELETE FROM signicat.queue" >/dev/null
}

# ---- figure 4: memory ----

figure_memory() {
    local get="signicat.assure_get_process('$DOSSIER', '$PROCESS')"
    local out rss0 rss1 anon0 anon1 growth n secs lrss0 hwm lrss1 lgrowth rate

    out=$(psql_q <<EOF
SELECT count($get) FROM generate_series(1, $MEM_WARMUP) \g /dev/null
SELECT bench_proc_kb('VmRSS') AS rss0, bench_proc_kb('RssAnon') AS anon0 \gset
SELECT count($get) FROM generate_series(1, $MEM_CALLS) \g /dev/null
SELECT bench_proc_kb('VmRSS') AS rss1, bench_proc_kb('RssAnon') AS anon1 \gset
\echo :rss0 :rss1 :anon0 :anon1
EOF
)
    read -r rss0 rss1 anon0 anon1 <<<"$out"
    [[ $rss0 =~ ^[0-9]+$ && $rss1 =~ ^[0-9]+$ && $anon1 =~ ^[0-9]+$ ]] || { echo "bad RSS readings: $out" >&2; return 1; }
    growth=$((rss1 - rss0))
    record rss_calls "4. backend RSS growth, $MEM_CALLS calls" \
        "$(printf '%d kB (%d -> %d kB; anon %+d kB)' "$growth" "$rss0" "$rss1" "$((anon1 - anon0))")" \
        "$growth" "kB" "< $TARGET_RSS_GROWTH_KB kB" "$(pass_if "$growth < $TARGET_RSS_GROWTH_KB")"

    out=$(psql_q <<EOF
SELECT $get \g /dev/null
SELECT bench_proc_kb('VmRSS') AS rss0 \gset
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) AS n FROM signicat.assure_list_processes('2020-01-01', page_size => $LIST_PAGE) \gset
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS secs \gset
SELECT bench_proc_kb('VmHWM') AS hwm, bench_proc_kb('VmRSS') AS rss1 \gset
\echo :n :secs :rss0 :hwm :rss1
EOF
)
    read -r n secs lrss0 hwm lrss1 <<<"$out"
    [[ $n =~ ^[0-9]+$ && $lrss0 =~ ^[0-9]+$ && $hwm =~ ^[0-9]+$ ]] || { echo "bad listing readings: $out" >&2; return 1; }
    rate=$(calc "$n / $secs")
    lgrowth=$((hwm - lrss0))
    record list_rate "4. assure_list_processes, $LIST_ROWS rows (page $LIST_PAGE)" \
        "$(printf '%.0f rows/s (%d rows in %.2f s)' "$rate" "$n" "$secs")" "$rate" "rows/s" \
        "= $LIST_ROWS rows" "$(pass_if "$n == $LIST_ROWS")"
    record list_rss "4. listing peak RSS growth" \
        "$(printf '%d kB (peak %d kB, after %d kB)' "$lgrowth" "$hwm" "$lrss1")" "$lgrowth" "kB" \
        "< $((TARGET_LIST_GROWTH_KB / 1024)) MB" "$(pass_if "$lgrowth < $TARGET_LIST_GROWTH_KB")"
}

# ---- figure 5: cancel latency ----

figure_cancel() {
    local r pid i state max=0 all=() v ok=1
    psql_q -c "TRUNCATE bench_cancel_sent, bench_cancel_caught"
    for ((r = 1; r <= CANCEL_REPEATS; r++)); do
        psql_q >"$WORKDIR/cancel.$r.out" 2>&1 <<EOF &
SET application_name = 'bench_hang_$r';
SET signicat.timeout = '60s';
DO \$\$
BEGIN
    PERFORM signicat.request('GET', '/hang');
    RAISE EXCEPTION 'the /hang request returned';
EXCEPTION WHEN query_canceled THEN
    INSERT INTO bench_cancel_caught VALUES ($r, clock_timestamp());
END
\$\$;
EOF
        pid=$!
        BG_PIDS+=("$pid")
        # wait until the request is in flight (waiting in libcurl), then a little more
        state=
        for ((i = 0; i < 500; i++)); do
            state=$(psql_q -c "SELECT wait_event_type FROM pg_stat_activity
                               WHERE application_name = 'bench_hang_$r' AND state = 'active'")
            [[ $state == Extension ]] && break
            sleep 0.02
        done
        if [[ $state != Extension ]]; then
            echo "run $r: the /hang request did not start waiting" >&2
            cat "$WORKDIR/cancel.$r.out" >&2
            kill -TERM "$pid" 2>/dev/null || true
            return 1
        fi
        sleep 0.3
        psql_q <<EOF
DO \$\$
DECLARE
    target int;
    t timestamptz;
BEGIN
    SELECT a.pid INTO STRICT target FROM pg_stat_activity a WHERE application_name = 'bench_hang_$r';
    t := clock_timestamp();
    PERFORM pg_cancel_backend(target);
    INSERT INTO bench_cancel_sent VALUES ($r, t);
END
\$\$;
EOF
        if ! wait "$pid"; then
            echo "run $r: the canceled session did not end as expected:" >&2
            cat "$WORKDIR/cancel.$r.out" >&2
            ok=0
        fi
        v=$(psql_q -c "SELECT round((extract(epoch FROM c.at - s.at) * 1000)::numeric, 2)
                       FROM bench_cancel_sent s JOIN bench_cancel_caught c USING (run) WHERE run = $r")
        [[ -n $v ]] || { echo "run $r: no latency recorded" >&2; ok=0; continue; }
        all+=("$v")
        max=$(calc "max($max, $v)")
    done
    ((ok)) || return 1
    record cancel_ms "5. cancel latency, max of $CANCEL_REPEATS" \
        "$(printf '%.1f ms (runs: %s)' "$max" "${all[*]}")" "$max" "ms" "< $TARGET_CANCEL_MS ms" \
        "$(pass_if "$max < $TARGET_CANCEL_MS")"
}

# ---- figure 6: instructions per call ----

# callgrind_ir CMD...: the instructions callgrind counted for CMD (its "Collected : N" line); the
# standard input is CMD's.
callgrind_ir() {
    "$@" 2>&1 >/dev/null | awk '/Collected :/ { print $NF }'
}

# backend_ir SQL-CALL N: instructions of a single-user backend evaluating SQL-CALL N times.
backend_ir() {
    printf 'SELECT count(%s) FROM generate_series(1, %d) AS i\n' "$1" "$2" |
        callgrind_ir as_pg valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$PG_BINDIR/postgres" --single -D "$WORKDIR/data" postgres
}

# Wall-clock rates on a shared 2-core VM move by 10-20% from run to run; instruction counts do
# not. Each figure is the difference of two runs (INSTR_WARMUP and INSTR_WARMUP + INSTR_CALLS
# calls) divided by INSTR_CALLS, so start-up, library loading and the token request cancel out.
# User-space instructions only: the kernel's share of a loopback round trip is not in them.
figure_instructions() {
    local url="http://127.0.0.1:$NGINX_PORT/assure/dossiers/$DOSSIER/processes/$PROCESS"
    local doc name expr a b
    declare -A ir
    command -v valgrind >/dev/null 2>&1 || { log "valgrind is not installed: SKIP"; return 0; }
    doc=$(cat "$WORKDIR/process.json")
    # shellcheck disable=SC2016  # a literal $doc$
    [[ $doc != *'$doc$'* && $doc != *$'\n'* ]] || { echo "the answer does not fit in one SQL line" >&2; return 1; }

    a=$(callgrind_ir valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$WORKDIR/raw_get" "$url" "$INSTR_WARMUP")
    b=$(callgrind_ir valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$WORKDIR/raw_get" "$url" "$((INSTR_WARMUP + INSTR_CALLS))")
    ir[raw]=$(((b - a) / INSTR_CALLS))

    # single-user mode needs the data directory to itself
    as_pg "$PG_BINDIR/pg_ctl" -D "$WORKDIR/data" -m fast -w -t 60 -s stop
    for name in ceil get jsonb; do
        case $name in
            ceil) expr="bench_ceiling_get('$url')" ;;
            get) expr="signicat.assure_get_process('$DOSSIER', '$PROCESS')" ;;
            jsonb) expr="(\$doc\$$doc\$doc\$ || repeat(' ', i % 2))::jsonb" ;;
        esac
        a=$(backend_ir "$expr" "$INSTR_WARMUP")
        b=$(backend_ir "$expr" "$((INSTR_WARMUP + INSTR_CALLS))")
        [[ -n $a && -n $b ]] || { echo "callgrind counted nothing for $name" >&2; return 1; }
        ir[$name]=$(((b - a) / INSTR_CALLS))
    done
    as_pg "$PG_BINDIR/pg_ctl" -D "$WORKDIR/data" -w -t 60 -s -l "$WORKDIR/postgres.log" start
    log "instructions per call: raw ${ir[raw]}, ceiling ${ir[ceil]}, assure_get_process ${ir[get]}," \
        "jsonb_in ${ir[jsonb]}"

    record ir_raw "6. instructions/call: raw libcurl (raw_get.c)" "${ir[raw]}" "${ir[raw]}" "instructions" "info" "-"
    record ir_jsonb "6. instructions/call: jsonb_in of the answer, SQL only" \
        "$(printf '%d (%.2fx raw)' "${ir[jsonb]}" "$(calc "${ir[jsonb]} / ${ir[raw]}")")" \
        "${ir[jsonb]}" "instructions" "info" "-"
    record ir_ceiling "6. instructions/call: ceiling (GET + jsonb_in)" \
        "$(printf '%d (%.2fx raw)' "${ir[ceil]}" "$(calc "${ir[ceil]} / ${ir[raw]}")")" \
        "${ir[ceil]}" "instructions" "info" "-"
    record ir_get_process "6. instructions/call: assure_get_process" \
        "$(printf '%d (%.2fx raw, +%d over the ceiling)' "${ir[get]}" "$(calc "${ir[get]} / ${ir[raw]}")" \
                  "$((ir[get] - ir[ceil]))")" \
        "${ir[get]}" "instructions" "info" "-"
}

# ---- report ----

report() {
    python3 - "$WORKDIR/results.tsv" "$RESULTS" <<EOF
import json, subprocess, sys, datetime, os

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""

rows = []
with open(sys.argv[1]) as f:
    for line in f:
        key, figure, value, number, unit, target, status, details = line.rstrip("\n").split("\t")
        try:
            num = float(number)
        except ValueError:
            num = None
        row = {"key": key, "figure": figure, "value": value, "number": num, "unit": unit,
               "target": target, "result": status}
        row.update(json.loads(details))
        rows.append(row)

head = ("figure", "value", "target", "result")
table = [head] + [(r["figure"], r["value"], r["target"], r["result"]) for r in rows]
w = [max(len(t[i]) for t in table) for i in range(4)]
lines = ["| " + " | ".join(t[i].ljust(w[i]) for i in range(4)) + " |" for t in table]
lines.insert(1, "|" + "|".join("-" * (w[i] + 2) for i in range(4)) + "|")
print("\n".join(lines))

meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "git_commit": sh("git -C '$REPO_ROOT' rev-parse --short HEAD"),
    "git_dirty": bool(sh("git -C '$REPO_ROOT' status --porcelain -- src sql")),
    "cpus": os.cpu_count(),
    "cpu_model": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
    "postgresql": sh("'$PG_BINDIR/postgres' --version"),
    "libcurl": sh("curl-config --version 2>/dev/null || curl --version | head -n1"),
    "nginx": sh("'$NGINX_BIN' -v 2>&1"),
    "rounds_figure_1": $ROUNDS,
    "pinned_figure_1": "${PIN_CLIENT:+nginx worker on CPU $PIN_SERVER, client on CPU $PIN_CLIENT}",
}
with open(sys.argv[2], "w") as f:
    json.dump({"meta": meta, "figures": rows}, f, indent=2)
    f.write("\n")
EOF
}

# ---- main ----

setup_packages
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results.json}
if [[ -n ${BENCH_PG:-} ]]; then
    use_pg "$BENCH_PG"
fi
log "measuring $("$PG_BINDIR/postgres" --version) ($PG_BINDIR)"
if [[ ${BENCH_SKIP_BUILD:-0} == 1 ]]; then
    log "BENCH_SKIP_BUILD=1: using the installed extension"
else
    build_and_install
fi
ensure_workdir
log "work directory: $WORKDIR"
log "building raw_get"
gcc -O2 -Wall -o "$WORKDIR/raw_get" "$BENCH_DIR/raw_get.c" -lcurl
log "building the ceiling function"
gcc -O2 -Wall -fPIC -shared -I"$("$PG_CONFIG" --includedir-server)" -o "$WORKDIR/ceiling.so" \
    "$BENCH_DIR/ceiling.c" -lcurl
: >"$WORKDIR/results.tsv"
start_nginx
start_bench_cluster

run_section "per-call overhead" figure_per_call
run_section "concurrency and token sharing" figure_concurrency
run_section "worker throughput" figure_worker
run_section "far upstream, row by row" figure_far_row_by_row
run_section "far upstream, bulk" figure_far_bulk
run_section "far upstream, worker" figure_far_worker
run_section "loopback, bulk" figure_loopback_bulk
run_section "after-commit queue" figure_queue
run_section "bulk: memory and statement_timeout" figure_bulk_limits
run_section "memory" figure_memory
run_section "cancel latency" figure_cancel
run_section "instructions per call" figure_instructions

log "results on $("$PG_BINDIR/postgres" --version) (also in $RESULTS)"
report
tokens_total=$(token_count)
log "token requests since the restart of figure 2: $tokens_total"
exit 0
