#!/usr/bin/env bash
#
# test/sanitize.sh: the whole pg_regress suite against a signicat.so built with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc 12).
#
# Takes about 1 minute on 2 cores: build and private install ~5 s, the suite ~45 s (30 s of it the
# cron test, which waits for pg_cron's minute), about as long as the plain suite of test/run.sh.
#
# What it does:
#   1. copies the repository (without .git and build products) to $WORKDIR/build and builds it there
#      with  -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
#      (with_llvm=no: no bitcode); /work/main's own objects are never touched;
#   2. installs it with DESTDIR into a *private* PostgreSQL tree, $WORKDIR/pg: a copy of the
#      `postgres` binary plus symlinks to every other file of the system's lib and share dirs.
#      PostgreSQL finds its share dir (extension scripts) and $libdir relative to its own binary,
#      so a postmaster started from $WORKDIR/pg/usr/lib/postgresql/15/bin/postgres loads this
#      signicat.so and signicat--*.sql and nothing in /usr is changed (a test/run.sh running at the
#      same time keeps its own, normal build);
#   3. starts the mock and a cluster with test/lib.sh exactly as test/run.sh does (signicat and
#      pg_cron preloaded, signicat.* pointed at the mock), except that PG_BINDIR points at the
#      private tree, whose pg_ctl wrapper starts that postgres through postgres-sanitized: the
#      sanitizer runtimes preloaded (LD_PRELOAD=libasan.so.8, a small shim, libubsan.so.1; why the
#      shim: see below) with ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=... and
#      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:...;
#   4. runs `make installcheck` in the build copy: every test in the Makefile's REGRESS (minus any in
#      SANITIZE_SKIP); the memory test's RSS readings are neutralised in the copy (see below);
#   5. fails on any pg_regress failure, any sanitizer report (a file $WORKDIR/sanitizer/asan.PID,
#      or a report on stderr, i.e. in the server log: UBSan's always go there) and any crashed
#      server process (a report aborts its backend: SIGABRT, then a crash restart). Crashes are
#      listed with the test that was running in that process (log_connections gives the pid ->
#      application_name "pg_regress/<test>" mapping).
#
# The last line is "N passed, M failed": N/M are pg_regress tests; every sanitizer report and every
# crashed server process adds one to M. Exit status 0 only when M is 0.
#
# Limits: only signicat.so is instrumented. Memory that PostgreSQL hands out with palloc lives inside
# malloc'd blocks of a memory context, so ASan sees overruns of malloc'd memory (libcurl's and our own
# malloc'd buffers), of the stack and of globals, but not an overrun of a palloc'd chunk into its
# neighbour in the same block (valgrind.sh does not either, PostgreSQL not being built with
# USE_VALGRIND). Leak detection is off (PostgreSQL never frees its memory contexts at exit).
# -fwrapv (from PostgreSQL's CFLAGS) makes signed overflow defined, so UBSan does not report it.
#
# Environment: as test/lib.sh (KEEP_WORKDIR=1 keeps $WORKDIR: build, logs, sanitizer reports).
# Run as root (the cluster then runs as the postgres OS user) or as a user that owns PostgreSQL.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=test/lib.sh
source test/lib.sh

SAN_COPT='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined'

install_cleanup_trap
ensure_packages
private_setup                       # test/lib.sh, "private builds": BUILD, PRIV, OUT, PGLOG, ...
SANLOG="$WORKDIR/sanitizer"

# ---- sanitizer runtimes ---------------------------------------------------------------------
runtime() {     # runtime NAME: absolute path of gcc's shared sanitizer runtime NAME (e.g. libasan.so)
    local p
    p=$(gcc -print-file-name="$1")
    [[ $p == /* && -e $p ]] || { die "gcc has no $1 (install libasan8/libubsan1 with gcc-12)"; return 1; }
    readlink -f "$p"
}
LIBASAN=$(runtime libasan.so)
LIBUBSAN=$(runtime libubsan.so)
log "sanitizer runtimes: $LIBASAN $LIBUBSAN"

# ---- build (in a copy) and private install ---------------------------------------------------
private_build "$SAN_COPT" || private_abort
grep -E 'warning|error' "$OUT/build.log" || true
private_pg_tree || private_abort
private_log_dir "$SANLOG"

# The sanitizer runtimes are preloaded into the postmaster only (pg_ctl, initdb and psql run plain),
# with a small shim library between them (LD_PRELOAD order: libasan first, as ASan requires; the
# shim before libubsan, so that its __ubsan_default_options wins over libubsan's own weak one).
#
# swift_demangle: a preloaded libasan is initialised late, on the first malloc, and postgres's
# first malloc happens in the constructor of libp11-kit (via libldap -> gnutls), inside newlocale()
# with glibc's locale lock held. ASan's initialisation looks up the optional symbol swift_demangle
# with dlsym; the lookup fails and dlerror() translates its message, which takes the locale lock
# again: glibc's locks end up inconsistent and postgres hangs at its first bindtextdomain() (even
# `postgres --version`). Defining swift_demangle (returning NULL, "cannot demangle"; ASan only asks
# for names starting with _T) makes the lookup succeed.
#
# __ubsan_default_options: libubsan initialises lazily, at the first report, in the backend, and
# reads UBSAN_OPTIONS from /proc/self/environ, which PostgreSQL has overwritten with the process
# title by then, so UBSAN_OPTIONS would be ignored (no stack trace, exit(1) instead of abort).
# Its log_path does not work either in this two-runtime setup (libubsan sets the report path through
# libasan's exported __sanitizer_set_report_path): UBSan reports go to stderr, i.e. the server log,
# which is scanned for them below.
UBSAN_OPTS="print_stacktrace=1:fast_unwind_on_fatal=0:halt_on_error=1:abort_on_error=1:log_path=$SANLOG/ubsan"
ASAN_OPTS="detect_leaks=0:abort_on_error=1:log_path=$SANLOG/asan"
cat >"$PRIV/sanitizer_shim.c" <<SHIM
#include <stddef.h>
#include <stdint.h>
char *swift_demangle(const char *name, size_t len, char *out, size_t *outlen, uint32_t flags);
const char *__ubsan_default_options(void);
char *swift_demangle(const char *name, size_t len, char *out, size_t *outlen, uint32_t flags)
{ return NULL; }
const char *__ubsan_default_options(void) { return "$UBSAN_OPTS"; }
SHIM
gcc -shared -fPIC -o "$PRIV/sanitizer_shim.so" "$PRIV/sanitizer_shim.c" ||
    die "could not build $PRIV/sanitizer_shim.so"
cat >"$P_BIN/postgres-sanitized" <<WRAPPER
#!/bin/sh
# the postmaster (and so every backend it forks) with the sanitizer runtimes
exec env LD_PRELOAD='$LIBASAN $PRIV/sanitizer_shim.so $LIBUBSAN' \\
    ASAN_OPTIONS='$ASAN_OPTS' UBSAN_OPTIONS='$UBSAN_OPTS' \\
    '$P_BIN/postgres' "\$@"
WRAPPER
# pg_ctl: the system's, starting postgres-sanitized
private_pg_ctl "$P_BIN/postgres-sanitized"

# ---- services (the settings of test/run.sh, plus log_connections for the pid -> test map) ----
export PRELOAD_LIBRARIES='signicat,pg_cron'
export EXTRA_PG_CONF="cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
log_connections = on
log_line_prefix = '%m [%p] '"
# the library loaded by the server must be the instrumented one from the private tree
private_start_services libasan "under ASan+UBSan" || private_abort

# ---- pg_regress -------------------------------------------------------------------------------
# RSS readings mean nothing under ASan: freed memory waits in ASan's quarantine (256 MB) and every
# block has redzones, so a backend's RSS grows by megabytes without any leak.
private_neutralise_rss ASan
# every test of the Makefile's REGRESS but those in SANITIZE_SKIP (space-separated; default none)
read -ra SKIP <<<"${SANITIZE_SKIP:-}"
TEST_LIST=$(private_regress_tests "${SKIP[@]}")
read -ra TESTS <<<"$TEST_LIST"
log "pg_regress: make installcheck (in $BUILD): ${#TESTS[@]} tests${SANITIZE_SKIP:+; skipped: $SANITIZE_SKIP}"
private_installcheck "${TESTS[@]}"
# Stop the server now, so that every report is written and the log is complete.
private_stop_cluster 20

# ---- sanitizer reports and crashes --------------------------------------------------------------
reports=0
shopt -s nullglob
for f in "$SANLOG"/asan.* "$SANLOG"/ubsan.*; do
    reports=$((reports + 1))
    pid=${f##*.}
    log "SANITIZER REPORT $f (pid $pid, $(test_of_pid "$pid")):"
    cat "$f"
done
shopt -u nullglob
# reports written to stderr (UBSan's always are, see above): one per "runtime error" / "ERROR:" line
SAN_RE='(: runtime error: |==[0-9]+==ERROR: (Address|UndefinedBehavior)Sanitizer)'
if grep -Eq "$SAN_RE" "$PGLOG"; then
    while IFS= read -r line; do
        reports=$((reports + 1))
        log "SANITIZER REPORT in $PGLOG: $line"
    done < <(grep -E "$SAN_RE" "$PGLOG")
    log "server log around the reports (the stack follows each one):"
    grep -E -A 40 "$SAN_RE" "$PGLOG" | grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2} .* (LOG|DETAIL):  connection' |
        head -n 200
fi
private_crashes                     # crashed server processes: CRASHES
log "sanitizer reports: $reports; crashed server processes: $CRASHES"
private_finish "$reports"
