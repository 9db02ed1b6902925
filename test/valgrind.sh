#!/usr/bin/env bash
#
# test/valgrind.sh: a representative part of the pg_regress suite with every server process under
# valgrind memcheck.
#
# Takes about 35 s on 2 cores for the default six tests (build ~2 s, server start ~5 s, the tests
# ~25 s: valgrind makes each backend 20-50x slower), about 2 minutes with VALGRIND_TESTS=all.
#
# What it does:
#   1. copies the repository (without .git and build products) to $WORKDIR/build and builds it there
#      unoptimised with debug info (COPT, default '-O0 -g'; with_llvm=no), so that reports point at
#      the right lines; /work/main's own objects are never touched;
#   2. installs it with DESTDIR into a private PostgreSQL tree, $WORKDIR/pg (a copy of the postgres
#      binary plus symlinks to the rest of the system's lib and share dirs: PostgreSQL finds its
#      share dir and $libdir relative to its binary), so nothing in /usr changes;
#   3. starts the mock and a cluster with test/lib.sh (signicat preloaded and pointed at the mock)
#      with PG_BINDIR pointing at the private tree, whose pg_ctl starts
#          valgrind --tool=memcheck --trace-children=yes --track-origins=yes --leak-check=full
#                   --show-leak-kinds=definite --errors-for-leak-kinds=definite
#                   --suppressions=$WORKDIR/valgrind.supp --log-file=$WORKDIR/valgrind/%p.log ...
#                   postgres -D ...
#      as the postmaster: every backend and background worker is a fork of it, so all of them run
#      under valgrind (one log per process), and a backend's leak check runs when it exits;
#   4. runs `make installcheck REGRESS='$VALGRIND_TESTS'` in the build copy (default: setup
#      assure_dossiers assure_processes errors cancel secure_share);
#   5. stops the server (fast shutdown: every process exits and is leak-checked) and reads the
#      logs. An error counts when it is an invalid read/write/free, a use of an uninitialised
#      value, an overlapping copy or a definite leak AND one of its stack frames is in our code
#      (signicat.so, or a source file of the build copy's src/). Errors only in PostgreSQL,
#      libcurl, OpenSSL or libc frames are listed as a count, not failed on.
#
# The last line is "N passed, M failed": N/M are pg_regress tests; every valgrind error in our code
# adds one to M. Exit status 0 only when M is 0.
#
# Limits: PostgreSQL is not built with USE_VALGRIND, so valgrind knows malloc'd blocks only:
# a palloc'd chunk overrun into its neighbour in the same memory-context block, or a read of a
# pfree'd chunk, is not seen (memory of libcurl, OpenSSL and our own malloc'd buffers is). The
# suppression file is PostgreSQL's src/tools/valgrind.supp (not shipped by Debian's packages; its
# entries are copied below) plus nothing else: noise from other libraries is filtered by the
# "frame in our code" rule instead.
#
# Environment: as test/lib.sh (KEEP_WORKDIR=1 keeps $WORKDIR: build, logs, valgrind logs);
#   VALGRIND_TESTS   pg_regress tests to run (space-separated; setup first), or "all": every test
#                    but cron (pg_cron is not preloaded), about 2 minutes
#   COPT             compiler options of the build (default '-O0 -g')
# Run as root (the cluster then runs as the postgres OS user) or as a user that owns PostgreSQL.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=test/lib.sh
source test/lib.sh

VALGRIND_TESTS=${VALGRIND_TESTS:-setup assure_dossiers assure_processes errors cancel secure_share}
VG_COPT=${COPT:-'-O0 -g'}

install_cleanup_trap
ensure_packages
if ! command -v valgrind >/dev/null 2>&1; then
    log "installing valgrind"
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends valgrind ||
        { die "could not install valgrind"; exit 1; }
fi
ensure_workdir
START=$SECONDS
BUILD="$WORKDIR/build"
PRIV="$WORKDIR/pg"
VGLOG="$WORKDIR/valgrind"
OUT="$WORKDIR/out"
SUPP="$WORKDIR/valgrind.supp"
mkdir -p "$BUILD" "$PRIV" "$VGLOG" "$OUT"

# ---- build (in a copy) and private install ---------------------------------------------------
log "copying the tree to $BUILD"
tar -C "$REPO_ROOT" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=./results --exclude='./regression.*' --exclude=./tmp_check --exclude=./log \
    -cf - . | tar -C "$BUILD" -xf -

log "building with COPT='$VG_COPT'"
if ! make -C "$BUILD" -s PG_CONFIG="$PG_CONFIG" with_llvm=no COPT="$VG_COPT" >"$OUT/build.log" 2>&1; then
    cat "$OUT/build.log" >&2
    die "build failed"
    echo "0 passed, 1 failed"
    exit 1
fi
make -C "$BUILD" -s PG_CONFIG="$PG_CONFIG" with_llvm=no COPT="$VG_COPT" DESTDIR="$PRIV" install \
    >>"$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; die "make install DESTDIR=$PRIV failed"; }

SYS_BIN=$("$PG_CONFIG" --bindir)
SYS_LIB=$("$PG_CONFIG" --pkglibdir)
SYS_SHARE=$("$PG_CONFIG" --sharedir)
P_BIN="$PRIV$SYS_BIN"
P_LIB="$PRIV$SYS_LIB"
P_SHARE="$PRIV$SYS_SHARE"
[[ -f $P_LIB/signicat.so && -f $P_SHARE/extension/signicat.control ]] ||
    die "make install DESTDIR=$PRIV did not install signicat.so and signicat.control"

# link_missing FROM TO: symlink every entry of FROM into TO that TO does not have yet
link_missing() {
    local e
    mkdir -p "$2"
    for e in "$1"/*; do
        [[ -e $2/${e##*/} || -L $2/${e##*/} ]] || ln -s "$e" "$2/${e##*/}"
    done
}
mkdir -p "$P_BIN"
cp "$SYS_BIN/postgres" "$P_BIN/postgres"       # a copy: PostgreSQL resolves symlinks to itself
link_missing "$SYS_LIB" "$P_LIB"
link_missing "$SYS_SHARE/extension" "$P_SHARE/extension"
link_missing "$SYS_SHARE" "$P_SHARE"
for b in initdb psql pg_isready; do ln -sf "$SYS_BIN/$b" "$P_BIN/$b"; done

# PostgreSQL's src/tools/valgrind.supp (REL_15_STABLE), minus the Python allocator entries: raw
# structures with padding bytes written to disk or sockets, CRCs over them, atomics' first write.
# Debian's postgres binary has no symbols for static functions (XLogWrite shows as ???), so the WAL
# write entries also match on any exported XLog* caller (XLogFlush, XLogBackgroundFlush): a WAL
# flush at commit in our background worker has the worker's frames at the bottom of its stack.
cat >"$SUPP" <<'EOF'
{
	padding_pgstat_send
	Memcheck:Param
	socketcall.send(msg)
	fun:*send*
	fun:pgstat_send
}
{
	padding_pgstat_sendto
	Memcheck:Param
	socketcall.sendto(msg)
	fun:*send*
	fun:pgstat_send
}
{
	padding_pgstat_write
	Memcheck:Param
	write(buf)
	...
	fun:pgstat_write_statsfiles
}
{
	padding_XLogRecData_CRC
	Memcheck:Value8
	fun:pg_comp_crc32c*
	fun:XLogRecordAssemble
}
{
	padding_XLogRecData_write
	Memcheck:Param
	pwrite64(buf)
	...
	fun:XLogWrite
}
{
	padding_XLogRecData_write_
	Memcheck:Param
	write(buf)
	...
	fun:XLogWrite
}
{
	padding_wal_flush_pwrite
	Memcheck:Param
	pwrite64(buf)
	...
	fun:XLog*
}
{
	padding_wal_flush_write
	Memcheck:Param
	write(buf)
	...
	fun:XLog*
}
{
	padding_relcache
	Memcheck:Param
	write(buf)
	...
	fun:write_relcache_init_file
}
{
	padding_reorderbuffer_serialize
	Memcheck:Param
	write(buf)
	...
	fun:ReorderBufferSerializeTXN
}
{
	padding_twophase_prepare
	Memcheck:Param
	write(buf)
	...
	fun:EndPrepare
}
{
	padding_twophase_CRC
	Memcheck:Value8
	fun:pg_comp_crc32c*
	fun:EndPrepare
}
{
	padding_bootstrap_initial_xlog_write
	Memcheck:Param
	write(buf)
	...
	fun:BootStrapXLOG
}
{
	padding_bootstrap_control_file_write
	Memcheck:Param
	write(buf)
	...
	fun:WriteControlFile
	fun:BootStrapXLOG
}
{
	bootstrap_write_relmap_overlap
	Memcheck:Overlap
	fun:memcpy*
	fun:write_relmap_file
	fun:RelationMapFinishBootstrap
}
{
	overread_tuplestruct_pg_cast
	Memcheck:Addr4
	fun:IsBinaryCoercible
}
{
	uninitialized_atomic_init_u64
	Memcheck:Cond
	fun:pg_atomic_exchange_u64_impl
	fun:pg_atomic_write_u64_impl
	fun:pg_atomic_init_u64_impl
}
EOF

# postgres under valgrind. --fullpath-after= prints full source paths, so that frames of our code
# are recognisable as $BUILD/src/... (with debug info valgrind names the file, not the library).
cat >"$P_BIN/postgres-valgrind" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --trace-children=yes --track-origins=yes --num-callers=40 \\
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
    --suppressions='$SUPP' --fullpath-after= --log-file='$VGLOG/%p.log' \\
    --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END \\
    '$P_BIN/postgres' "\$@"
EOF
# pg_ctl: the system's, starting postgres-valgrind (pg_ctl's sh execs it, it execs valgrind, which
# runs postgres in the same process: the pid pg_ctl waits for stays the postmaster's)
cat >"$P_BIN/pg_ctl" <<EOF
#!/bin/sh
exec '$SYS_BIN/pg_ctl' -p '$P_BIN/postgres-valgrind' "\$@"
EOF
chmod 755 "$P_BIN/pg_ctl" "$P_BIN/postgres-valgrind"
chmod -R a+rX "$PRIV" "$SUPP"
if _is_root; then chown "$(pg_os_user)": "$VGLOG"; fi
PG_BINDIR="$P_BIN"
export PG_BINDIR
log "build and private install: $((SECONDS - START)) s"

# ---- services ---------------------------------------------------------------------------------
export PRELOAD_LIBRARIES='signicat'
export EXTRA_PG_CONF="huge_pages = off
autovacuum = off
max_connections = 20
log_connections = on
log_line_prefix = '%m [%p] '"
START_SERVICES=$SECONDS
if ! start_mock || ! start_cluster; then
    echo "0 passed, 1 failed"
    exit 1
fi
pmpid=$(head -n 1 "$WORKDIR/data/postmaster.pid")
if ! grep -q "$P_LIB/signicat.so" "/proc/$pmpid/maps" || ! grep -q vgpreload_memcheck "/proc/$pmpid/maps"; then
    die "the postmaster ($pmpid) is not running $P_LIB/signicat.so under valgrind"
    echo "0 passed, 1 failed"
    exit 1
fi
log "postmaster $pmpid runs under valgrind with $P_LIB/signicat.so (started in $((SECONDS - START_SERVICES)) s)"

# ---- pg_regress -------------------------------------------------------------------------------
if [[ $VALGRIND_TESTS == all ]]; then
    # every test of the Makefile's REGRESS but cron (pg_cron is not preloaded here)
    # shellcheck disable=SC2016  # $(REGRESS) is make's, not the shell's
    VALGRIND_TESTS=$(make -C "$BUILD" -s --no-print-directory PG_CONFIG="$PG_CONFIG" -f Makefile \
        -f <(printf 'print-regress:\n\t@echo $(filter-out cron,$(REGRESS))\n') print-regress)
fi
# RSS readings mean nothing under valgrind (its own memory is the process's): in the build copy, the
# memory test's reading of /proc/self/status becomes a constant in the test and its expected output
# alike, so that the test still drives its thousands of failing calls but does not judge RSS.
for f in "$BUILD/sql/memory.sql" "$BUILD/expected/memory.out"; do
    if [[ -f $f ]]; then
        sed -i "s|pg_read_file('/proc/self/status')|'VmRSS: 0 kB' /* valgrind: RSS not checked */|" "$f"
    fi
done
log "pg_regress: make installcheck REGRESS='$VALGRIND_TESTS' (in $BUILD)"
START_SUITE=$SECONDS
rc=0
make -C "$BUILD" PG_CONFIG="$PG_CONFIG" REGRESS="$VALGRIND_TESTS" installcheck 2>&1 |
    tee "$OUT/installcheck.log" || rc=$?
SUITE_SECONDS=$((SECONDS - START_SUITE))
passed=$(grep -Ec '\.\.\. ok( |$)' "$OUT/installcheck.log" || true)
failed=$(grep -Ec '\.\.\. FAILED( |$)' "$OUT/installcheck.log" || true)
if ((rc != 0 && failed == 0)); then
    failed=1
fi
if ((failed > 0)) && [[ -f $BUILD/regression.diffs ]]; then
    log "regression.diffs (first 300 lines)"
    head -n 300 "$BUILD/regression.diffs"
fi

# Fast shutdown: every process exits normally, so valgrind leak-checks each one.
log "stopping the server (valgrind checks every process for leaks as it exits)"
if ! as_pg "$PG_BINDIR/pg_ctl" -D "$WORKDIR/data" -m fast -s -w -t 120 stop >/dev/null 2>&1; then
    as_pg "$PG_BINDIR/pg_ctl" -D "$WORKDIR/data" -m immediate -s -w stop >/dev/null 2>&1 || true
fi

# ---- valgrind reports ---------------------------------------------------------------------------
PGLOG="$WORKDIR/postgres.log"
test_of_pid() {
    sed -nE "s/.*\[$1\] LOG:  connection authorized: .*application_name=([^ ]+).*/\1/p" "$PGLOG" |
        head -n 1
}
# split every log into its error blocks (between the markers), one file per block
python3 - "$VGLOG" "$BUILD/src/" <<'PY' >"$OUT/valgrind-errors.txt"
import glob, os, re, sys
logdir, srcdir = sys.argv[1], sys.argv[2]
kinds = re.compile(r"Invalid (read|write|free)|uninitialised|Mismatched free|overlap|definitely lost"
                   r"|Syscall param .* points to unaddressable")
ours = other = 0
for path in sorted(glob.glob(os.path.join(logdir, "*.log"))):
    pid = os.path.basename(path)[:-4]
    text = open(path, errors="replace").read()
    for block in re.findall(r"VALGRINDERROR-BEGIN\n(.*?)VALGRINDERROR-END", text, re.S):
        if not kinds.search(block):
            continue
        mine = "signicat.so" in block or srcdir in block
        if mine:
            ours += 1
            print("OURS pid=%s\n%s" % (pid, block))
        else:
            other += 1
            print("OTHER pid=%s\n%s" % (pid, block))
print("COUNTS ours=%d other=%d" % (ours, other))
PY
read -r ours other < <(sed -nE 's/^COUNTS ours=([0-9]+) other=([0-9]+)$/\1 \2/p' "$OUT/valgrind-errors.txt")
nlogs=$(find "$VGLOG" -name '*.log' | wc -l)
if ((ours > 0)); then
    log "VALGRIND ERRORS IN OUR CODE: $ours (test of each process from the server log):"
    awk '/^OURS pid=/{p=1} /^OTHER pid=/{p=0} p' "$OUT/valgrind-errors.txt" |
        while IFS= read -r line; do
            if [[ $line =~ ^OURS\ pid=([0-9]+) ]]; then
                t=$(test_of_pid "${BASH_REMATCH[1]}")
                echo "---- process ${BASH_REMATCH[1]} (${t:-not a client backend: a background worker?})"
            else
                echo "$line"
            fi
        done
fi
if ((other > 0)); then
    log "$other valgrind error(s) without a frame in our code (PostgreSQL/libraries; not failed on):"
    grep -A 1 '^OTHER pid=' "$OUT/valgrind-errors.txt" | grep -Ev '^(OTHER pid=|--$)' |
        sed -E 's/^==[0-9]+== +//; s/^[0-9,]+ (\([^)]*\) )?bytes in [0-9,]+ blocks/N bytes/;
                s/ in loss record.*//; s/\(0x[0-9a-f]+, 0x[0-9a-f]+, [0-9]+\)//' |
        sort | uniq -c | sort -rn | head -n 20
    log "(their stacks: $OUT/valgrind-errors.txt; KEEP_WORKDIR=1 keeps it)"
fi
crashes=$(grep -Ec 'terminated by signal|server process \(PID [0-9]+\) exited with exit code|PANIC:|TRAP:' "$PGLOG" || true)
if ((crashes > 0)); then
    log "crashed server processes:"
    grep -E 'terminated by signal|server process \(PID [0-9]+\) exited with exit code|PANIC:|TRAP:' "$PGLOG"
fi
log "valgrind logs: $nlogs processes; errors in our code: $ours; elsewhere: $other; crashes: $crashes"
log "times: build+install $((START_SERVICES - START)) s, pg_regress $SUITE_SECONDS s, total $((SECONDS - START)) s"
failed=$((failed + ours + crashes))
echo "$passed passed, $failed failed"
((failed == 0))
