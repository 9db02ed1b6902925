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
#      assure_dossiers assure_processes errors cancel secure_share bulk: bulk drives the poller);
#   5. stops the server (fast shutdown: every process exits and is leak-checked) and reads the
#      logs. An error counts when it is an invalid read/write/free, a use of an uninitialised
#      value, an overlapping copy or a definite leak AND one of its stack frames is in our code
#      (signicat.so, or a source file of the build copy's src/; our ProcessUtility hook only when
#      the error is not inside the standard_ProcessUtility it calls). Errors only in PostgreSQL,
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

VALGRIND_TESTS=${VALGRIND_TESTS:-setup assure_dossiers assure_processes errors cancel secure_share bulk}
VG_COPT=${COPT:-'-O0 -g'}

install_cleanup_trap
ensure_packages
if ! command -v valgrind >/dev/null 2>&1; then
    log "installing valgrind"
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends valgrind ||
        { die "could not install valgrind"; exit 1; }
fi
private_setup                       # test/lib.sh, "private builds": BUILD, PRIV, OUT, PGLOG, ...
VGLOG="$WORKDIR/valgrind"
SUPP="$WORKDIR/valgrind.supp"

# ---- build (in a copy) and private install ---------------------------------------------------
private_build "$VG_COPT" || private_abort
private_pg_tree || private_abort
private_log_dir "$VGLOG"

# PostgreSQL's src/tools/valgrind.supp (REL_15_STABLE), minus the Python allocator entries: raw
# structures with padding bytes written to disk or sockets, CRCs over them, atomics' first write.
# Debian's postgres binary has no symbols for static functions (XLogWrite shows as ???), so the WAL
# write entries also match on any exported XLog* caller (XLogFlush, XLogBackgroundFlush): a WAL
# flush at commit in our background worker has the worker's frames at the bottom of its stack.
# For the same reason the relcache init file entry also matches on RelationCacheInitializePhase3:
# the first connection to a database writes that file, and that is often our worker's (the
# launcher's look at each database at start).
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
	padding_relcache_unnamed
	Memcheck:Param
	write(buf)
	...
	fun:RelationCacheInitializePhase3
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
chmod a+r "$SUPP"
# pg_ctl: the system's, starting postgres-valgrind (which runs postgres in the same process)
private_pg_ctl "$P_BIN/postgres-valgrind"

# ---- services ---------------------------------------------------------------------------------
export PRELOAD_LIBRARIES='signicat'
export EXTRA_PG_CONF="huge_pages = off
autovacuum = off
max_connections = 20
log_connections = on
log_line_prefix = '%m [%p] '"
private_start_services vgpreload_memcheck "under valgrind" || private_abort

# ---- pg_regress -------------------------------------------------------------------------------
if [[ $VALGRIND_TESTS == all ]]; then
    # every test of the Makefile's REGRESS but cron (pg_cron is not preloaded here)
    VALGRIND_TESTS=$(private_regress_tests cron)
fi
# RSS readings mean nothing under valgrind (its own memory is the process's).
private_neutralise_rss valgrind
log "pg_regress: make installcheck REGRESS='$VALGRIND_TESTS' (in $BUILD)"
read -ra TESTS <<<"$VALGRIND_TESTS"
private_installcheck "${TESTS[@]}"
# Fast shutdown: every process exits normally, so valgrind leak-checks each one.
log "stopping the server (valgrind checks every process for leaks as it exits)"
private_stop_cluster 120

# ---- valgrind reports ---------------------------------------------------------------------------
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
        # our ProcessUtility hook (ddl.c) is on the stack of every utility statement: a frame of
        # it counts only when the error is not deeper, inside PostgreSQL's standard_ProcessUtility
        frames = [l for l in block.split("\n") if re.search(r"\b(at|by) 0x", l)]
        mine = False
        passed_standard = False
        for f in frames:
            if "standard_ProcessUtility" in f:
                passed_standard = True
            if "signicat.so" in f or srcdir in f:
                if "signicat_process_utility" in f and passed_standard:
                    continue
                mine = True
                break
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
private_crashes                     # crashed server processes: CRASHES
log "valgrind logs: $nlogs processes; errors in our code: $ours; elsewhere: $other; crashes: $CRASHES"
private_finish "$ours"
