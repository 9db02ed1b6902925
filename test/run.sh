#!/usr/bin/env bash
#
# test/run.sh: run every test of the signicat extension (this is what .ci/run calls).
#
# Steps: install missing Debian packages, then for each PostgreSQL major of PG_VERSIONS (default
# "15 18": the oldest and the newest supported; 15 from Debian's packages, 18 built once from Debian's
# source package, see test/pg_versions.sh) build and install the extension against it, start the mock
# Signicat server and a throw-away cluster with signicat and pg_cron preloaded, and run
#   1. pg_regress            `make installcheck` (sql/ + expected/) against that cluster
#   1b. secrets-in-log       no secret in that cluster's server log (DEBUG1)
#   3. TAP tests             prove test/t/*.pl, as the postgres user (on 18, after 15 in the same run,
#                            this includes the pg_upgrade test from 15 to 18)
# and once, on the first version: the mock's self-checks, the catalog check, the sanitizer, valgrind
# and fuzzing runs. A failing suite does not stop the following ones. Each suite's line names its
# version ("pg18 tap: ..."). The last line is "N passed, M failed", the totals over all suites and
# versions; the exit status is non-zero when anything failed (a build included).
#
# Environment: PG_VERSIONS (e.g. PG_VERSIONS=15 test/run.sh for a quick run on one version),
# SKIP_SANITIZERS=1, FUZZ_SECONDS; the rest in test/lib.sh (KEEP_WORKDIR=1 keeps the clusters' data
# directories and logs).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=test/lib.sh
source test/lib.sh

TOTAL_PASSED=0
TOTAL_FAILED=0
FAILED_SUITES=()
V=                                          # the version of the current pass ("pg15"), in suite names

# record SUITE PASSED FAILED [SKIPPED]: add a suite's counts to the totals and report them.
record() {
    local suite=${V:+$V }$1 passed=$2 failed=$3 skipped=${4:-0}
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    if ((failed > 0)); then
        FAILED_SUITES+=("$suite")
    fi
    if ((skipped > 0)); then
        log "$suite: $passed passed, $failed failed, $skipped skipped"
    else
        log "$suite: $passed passed, $failed failed"
    fi
}

# run_logged FILE CMD...: run CMD showing its output and keeping a copy in FILE; returns CMD's status.
run_logged() {
    local out=$1
    shift
    local rc
    "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    return "$rc"
}

# parse_pg_regress FILE RC: count pg_regress results from its output.
#   "All N tests passed."  /  "M of N tests failed."  (possibly ", K of these failures ignored")
# Falls back to the per-test "... ok" / "... FAILED" lines, then to the exit status.
parse_pg_regress() {
    local out=$1 rc=$2 n m ign line
    if line=$(grep -Eo 'All [0-9]+ tests passed' "$out" | tail -n 1) && [[ -n $line ]]; then
        n=$(grep -Eo '[0-9]+' <<<"$line")
        record pg_regress "$n" 0
    elif line=$(grep -Eo '[0-9]+ of [0-9]+ tests failed(, [0-9]+ of these failures ignored)?' "$out" |
                tail -n 1) && [[ -n $line ]]; then
        m=$(awk '{print $1}' <<<"$line")
        n=$(awk '{print $3}' <<<"$line")
        ign=$(awk '{print ($7 == "of") ? $6 : 0}' <<<"$line")   # ignored failures count as passed
        record pg_regress "$((n - m + ign))" "$((m - ign))"
    else
        n=$(grep -Ec '\.\.\. ok( |$)' "$out" || true)
        m=$(grep -Ec '\.\.\. FAILED( |$)' "$out" || true)
        if ((rc != 0 && m == 0)); then
            m=1                             # it failed before running tests (or make itself failed)
        fi
        record pg_regress "$n" "$m"
    fi
}

# parse_unittest FILE RC: count Python unittest results ("Ran N tests", "OK (skipped=S)",
# "FAILED (failures=F, errors=E, skipped=S, expected failures=X, unexpected successes=U)").
parse_unittest() {
    local out=$1 rc=$2 ran summary f e s u failed
    ran=$(grep -Eo '^Ran [0-9]+ tests?' "$out" | tail -n 1 | grep -Eo '[0-9]+' || true)
    if [[ -z $ran ]]; then
        record mock-unittest 0 $((rc != 0 ? 1 : 0))
        return
    fi
    summary=$(grep -E '^(OK|FAILED)( |$)' "$out" | tail -n 1 || true)
    f=$(grep -Eo '[(]failures=[0-9]+' <<<"$summary" | grep -Eo '[0-9]+' || echo 0)
    e=$(grep -Eo 'errors=[0-9]+' <<<"$summary" | grep -Eo '[0-9]+' || echo 0)
    s=$(grep -Eo 'skipped=[0-9]+' <<<"$summary" | grep -Eo '[0-9]+' || echo 0)
    u=$(grep -Eo 'unexpected successes=[0-9]+' <<<"$summary" | grep -Eo '[0-9]+' || echo 0)
    failed=$((f + e + u))
    if ((failed == 0 && rc != 0 && ran > 0)); then
        failed=1                            # non-zero exit without a counted failure
    fi
    # expected failures count as passed, as unittest itself does
    record mock-unittest "$((ran - f - e - s - u))" "$failed" "$s"
}

# parse_prove FILE RC: count TAP results from prove's "Files=F, Tests=N" line and its summary
# report, whose lines read "t/x.pl (Wstat: W (...) Tests: T Failed: F)": F failed assertions, or,
# when F is 0 but W is not (the script died, bad plan), one failure for that script.
parse_prove() {
    local out=$1 rc=$2 n counts f died
    n=$(grep -Eo 'Files=[0-9]+, Tests=[0-9]+' "$out" | tail -n 1 | sed -E 's/.*Tests=//' || true)
    n=${n:-0}
    counts=$(sed -nE 's/.*\(Wstat: ([0-9]+).*Tests: [0-9]+ Failed: ([0-9]+)\).*/\1 \2/p' "$out" |
        awk '{ if ($2 > 0) f += $2; else if ($1 != 0) d++ } END { print f + 0, d + 0 }')
    read -r f died <<<"$counts"
    if ((rc != 0 && f + died == 0)); then
        died=1                              # prove failed without a counted failure
    fi
    record tap "$((n > f ? n - f : 0))" "$((f + died))"
}

# run_suite NAME SCRIPT [ARGS...]: run a script that ends with "N passed, M failed" and record its
# counts (a non-zero exit with nothing failed counts as one failure).
run_suite() {
    local name=$1 script=$2 rc=0 summary fp ff
    shift 2
    log "$name: $script $*"
    # a clean environment: the script sets up its own work directory, mock and cluster
    run_logged "$OUT/$name.log" env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
        PG_CONFIG="$PG_CONFIG" PG_BINDIR="$PG_BINDIR" bash "$script" "$@" || rc=$?
    if summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT/$name.log" | tail -n 1); then
        read -r fp _ ff _ <<<"$summary"
        ((rc == 0 || ff > 0)) || ff=1
        record "$name" "$fp" "$ff"
    else
        record "$name" 0 1
    fi
}

# ---- 1. pg_regress ---------------------------------------------------------------------------
run_pg_regress() {
    log "$V pg_regress: make installcheck"
    rm -f regression.diffs regression.out
    local rc=0
    run_logged "$OUT/installcheck.log" make PG_CONFIG="$PG_CONFIG" installcheck || rc=$?
    parse_pg_regress "$OUT/installcheck.log" "$rc"
    if ((rc != 0)); then
        if [[ -f regression.diffs ]]; then
            log "regression.diffs (first 300 lines)"
            head -n 300 regression.diffs
        fi
        log "server log (last 50 lines of $WORKDIR/postgres.log)"
        tail -n 50 "$WORKDIR/postgres.log" || true
    fi
}

# ---- 1b. no secret in the server log ---------------------------------------------------------
# The client secret, every access token the mock issued, the Basic credentials and a national
# identity number from the fixtures must appear nowhere in the log of the whole suite (DEBUG1).
check_secrets_in_log() {
    log "$V secrets: grep the server log of the suite"
    local leaks=0 tokens basic needle
    # (a mock that died fails this check, but must not end the whole run)
    tokens=$(curl -fsS "$MOCK_URL/__mock/tokens?reveal=true" |
        python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin).get("tokens", [])))') || tokens=''
    if [[ -z $tokens ]]; then
        log "secrets: the mock listed no tokens"
        leaks=$((leaks + 1))
    fi
    basic=$(printf '%s:%s' "$MOCK_CLIENT_ID" "$MOCK_CLIENT_SECRET" | base64)
    while IFS= read -r needle; do
        [[ -n $needle ]] || continue
        if grep -qF -- "$needle" "$WORKDIR/postgres.log"; then
            log "LEAK: a secret of length ${#needle} is in the server log"
            leaks=$((leaks + 1))
        fi
    done <<<"$MOCK_CLIENT_SECRET
$basic
01019012345
$tokens"
    log "secrets: checked the secret, the Basic credentials, a NIN and $(wc -w <<<"$tokens") tokens in $(wc -l <"$WORKDIR/postgres.log") log lines"
    # the check means something only if the suite's DEBUG1 lines (retries, token refresh) are there
    if ! grep -q 'DEBUG:  signicat: ' "$WORKDIR/postgres.log"; then
        log "secrets: the server log has no DEBUG1 line of signicat: log_min_messages did not apply"
        leaks=$((leaks + 1))
    fi
    if ((leaks == 0)); then record secrets-in-log 1 0; else record secrets-in-log 0 1; fi
}

# ---- 3. TAP tests ----------------------------------------------------------------------------
# (prove is given the *.pl files: on a bare directory it only looks for *.t)
run_tap() {
    local perl_test_lib tapdir rc=0
    # (16 and later name the directories of PostgreSQL::Test::Utils by TESTDATADIR and TESTLOGDIR,
    # absolute paths as PGXS passes them, since servers resolve files from their data directory;
    # 15 derives them from TESTDIR)
    perl_test_lib="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/perl"
    if _is_root; then
        # PostgreSQL::Test::Cluster runs initdb/postgres itself, which refuse root: run prove as
        # the postgres user, in a copy of the repository that user owns (it writes tmp_check/).
        tapdir="$WORKDIR/tap"
        rm -rf "$tapdir"
        mkdir -p "$tapdir"
        if ! { tar -C "$REPO_ROOT" --exclude=./.git -cf - . | tar -C "$tapdir" -xf -; } ||
                ! chown -R postgres: "$tapdir"; then
            record tap 0 1
            return 0
        fi
    else
        tapdir="$REPO_ROOT"
    fi
    log "$V TAP tests: prove test/t/*.pl (in $tapdir, as $(pg_os_user))"
    # shellcheck disable=SC2016  # $1/$2 belong to the inner bash -c script
    run_logged "$OUT/prove.log" as_pg env \
        PATH="$PG_BINDIR:$PATH" TESTDIR="$tapdir" PG_CONFIG="$PG_CONFIG" PG_MAJOR="$PG_MAJOR" \
        TESTDATADIR="$tapdir/tmp_check" TESTLOGDIR="$tapdir/tmp_check/log" \
        PG_UPGRADE_FROM_BINDIR="${UPGRADE_FROM_BINDIR:-}" \
        PG_REGRESS="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress" \
        bash -c 'cd "$1" && exec prove -v -I "$2" test/t/*.pl' prove "$tapdir" "$perl_test_lib" || rc=$?
    parse_prove "$OUT/prove.log" "$rc"
}

# run_version MAJOR: build, pg_regress, secrets and TAP on PostgreSQL MAJOR, in $TOP/pgMAJOR.
run_version() {
    V="pg$1"
    WORKDIR="$TOP/$V"
    OUT="$WORKDIR/out"
    mkdir -p "$OUT"
    chmod 755 "$WORKDIR"
    if ! use_pg "$1"; then
        record install 0 1
        return 0
    fi
    if ! run_logged "$OUT/build.log" build_and_install; then
        record build 0 1
        log "$V: skipping pg_regress and TAP tests: the build failed"
        return 0
    fi
    # `make` prints no warning on any supported version
    if grep -E '(warning|error):' "$OUT/build.log"; then
        record build-warnings 0 1
    else
        record build-warnings 1 0
    fi
    BUILT_VERSIONS+=("$1")
    # the server the pg_upgrade test starts from, when this is the first version and more follow
    UPGRADE_BINDIR_OF[$1]=$PG_BINDIR
    if ((${#BUILT_VERSIONS[@]} == 1 && ${#VERSIONS[@]} > 1)); then
        if ! upgrade_source_tree "$1"; then
            record upgrade-source 0 1
        elif [[ -n $UPGRADE_TREE ]]; then
            # this build, installed into that tree too
            _as_root make -s PG_CONFIG="$PG_CONFIG" DESTDIR="$UPGRADE_TREE" install >/dev/null &&
                chmod -R a+rX "$UPGRADE_TREE" && UPGRADE_BINDIR_OF[$1]=$UPGRADE_TREE_BINDIR ||
                record upgrade-source 0 1
        fi
    fi
    # pg_cron runs in database postgres; the cron test schedules a job in the test database
    export PRELOAD_LIBRARIES='signicat,pg_cron'
    # the server log at DEBUG1 for the whole suite: afterwards it must hold no secret
    export EXTRA_PG_CONF="cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
log_min_messages = debug1"
    if start_mock && start_cluster; then
        run_pg_regress
        check_secrets_in_log
    else
        record services 0 1                 # start_mock/start_cluster printed the logs
    fi
    stop_services
    if compgen -G 'test/t/*.pl' >/dev/null; then
        # the pg_upgrade test moves a cluster from the oldest major built in this run to this one
        UPGRADE_FROM_BINDIR=
        if [[ ${BUILT_VERSIONS[0]} != "$1" ]]; then
            UPGRADE_FROM_BINDIR=${UPGRADE_BINDIR_OF[${BUILT_VERSIONS[0]}]}
        fi
        run_tap
    fi
}

install_cleanup_trap
ensure_packages
ensure_workdir
TOP=$WORKDIR
# oldest first: the pg_upgrade test goes from the first version to the later ones
read -r -a VERSIONS <<<"$(tr ' ' '\n' <<<"${PG_VERSIONS:-15 18}" | grep . | sort -n -u | tr '\n' ' ')"
BUILT_VERSIONS=()
declare -A UPGRADE_BINDIR_OF=()
for major in "${VERSIONS[@]}"; do
    run_version "$major"
done
WORKDIR=$TOP
OUT="$TOP/out"
mkdir -p "$OUT"
V=

# ---- 2. mock self-checks ---------------------------------------------------------------------
if compgen -G 'test/mock/test_*.py' >/dev/null; then
    log "mock self-checks: python3 -m unittest discover -s test/mock"
    rc=0
    run_logged "$OUT/unittest.log" python3 -m unittest discover -s test/mock -p 'test_*.py' -v || rc=$?
    parse_unittest "$OUT/unittest.log" "$rc"
else
    log "mock self-checks: no test/mock/test_*.py, skipped"
fi

# ---- 1c. the checked-in operation table matches the API document -----------------------------
if make -s catalog-check >"$OUT/catalog-check.log" 2>&1; then
    record catalog-check 1 0
else
    cat "$OUT/catalog-check.log"
    record catalog-check 0 1
fi

# ---- 2a. sanitizers and valgrind, 2b. fuzzing: once, on the first version built --------------
# The pg_regress suite again with signicat.so built with ASan+UBSan, then a representative part
# under valgrind memcheck; each in its own private install and cluster (see the scripts). Each
# libFuzzer target of fuzz/ for a few seconds (longer runs: fuzz/run.sh SECONDS).
if ((${#BUILT_VERSIONS[@]} > 0)); then
    if ! use_pg "${BUILT_VERSIONS[0]}" >/dev/null; then
        record install 0 1
    fi
    # the private builds install from a copy of the tree: the last pass's build products go first
    make -s PG_CONFIG="$PG_CONFIG" clean >/dev/null 2>&1 || true
    if [[ ${SKIP_SANITIZERS:-0} != 1 ]]; then
        run_suite sanitizers test/sanitize.sh
        run_suite valgrind test/valgrind.sh
    fi
    if [[ -f fuzz/run.sh ]]; then
        run_suite fuzz fuzz/run.sh "${FUZZ_SECONDS:-10}"
    fi
fi

# ---- summary ---------------------------------------------------------------------------------
if ((${#FAILED_SUITES[@]} > 0)); then
    log "failed: ${FAILED_SUITES[*]}"
fi
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
((TOTAL_FAILED == 0 && ${#BUILT_VERSIONS[@]} == ${#VERSIONS[@]}))
