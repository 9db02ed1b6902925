#!/usr/bin/env bash
#
# test/run.sh: run every test of the signicat extension (this is what .ci/run calls).
#
# Steps: install missing Debian packages, build and install the extension, start the mock Signicat
# server and a throw-away PostgreSQL 15 cluster with signicat preloaded, then run the suites:
#   1. pg_regress            `make installcheck` (sql/ + expected/) against that cluster
#   2. mock self-checks      python3 -m unittest discover -s test/mock
#   3. TAP tests             prove test/t/*.pl (only when such files exist), as the postgres user
# A failing suite does not stop the following ones. The last line is "N passed, M failed", the
# totals over all suites; the exit status is non-zero when anything failed (the build included).
#
# Environment: see test/lib.sh (KEEP_WORKDIR=1 keeps the cluster's data directory and logs).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=test/lib.sh
source test/lib.sh

TOTAL_PASSED=0
TOTAL_FAILED=0
FAILED_SUITES=()

# record SUITE PASSED FAILED [SKIPPED]: add a suite's counts to the totals and report them.
record() {
    local suite=$1 passed=$2 failed=$3 skipped=${4:-0}
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

install_cleanup_trap
ensure_packages
ensure_workdir
OUT="$WORKDIR/out"
mkdir -p "$OUT"

# ---- build ----------------------------------------------------------------------------------
BUILD_OK=1
if ! build_and_install; then
    BUILD_OK=0
    record build 0 1
fi

# ---- services -------------------------------------------------------------------------------
SERVICES_OK=0
if ((BUILD_OK)); then
    # pg_cron runs in database postgres; the cron test schedules a job in the test database
    export PRELOAD_LIBRARIES='signicat,pg_cron'
    # the server log at DEBUG1 for the whole suite: afterwards it must hold no secret
    export EXTRA_PG_CONF="cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
log_min_messages = debug1"
    if start_mock && start_cluster; then
        SERVICES_OK=1
    else
        record services 0 1                 # start_mock/start_cluster printed the logs
    fi
else
    log "skipping pg_regress and TAP tests: the build failed"
fi

# ---- 1. pg_regress --------------------------------------------------------------------------
if ((SERVICES_OK)); then
    log "pg_regress: make installcheck"
    rm -f regression.diffs regression.out
    rc=0
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
fi

# ---- 1b. no secret in the server log ---------------------------------------------------------
# The client secret, every access token the mock issued, the Basic credentials and a national
# identity number from the fixtures must appear nowhere in the log of the whole suite (DEBUG1).
if ((SERVICES_OK)); then
    log "secrets: grep the server log of the suite"
    leaks=0
    tokens=$(curl -fsS "$MOCK_URL/__mock/tokens?reveal=true" |
        python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin).get("tokens", [])))')
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
fi

# ---- 2. mock self-checks --------------------------------------------------------------------
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

# ---- 2a. sanitizers and valgrind ------------------------------------------------------------
# The pg_regress suite again with signicat.so built with ASan+UBSan, then a representative part
# under valgrind memcheck; each in its own private install and cluster (see the scripts).
# run_suite NAME SCRIPT [ARGS...]: run a script that ends with "N passed, M failed" and record its
# counts (a non-zero exit with nothing failed counts as one failure).
run_suite() {
    local name=$1 script=$2 rc=0 summary fp ff
    shift 2
    log "$name: $script $*"
    # a clean environment: the script sets up its own work directory, mock and cluster
    run_logged "$OUT/$name.log" env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
        bash "$script" "$@" || rc=$?
    if summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT/$name.log" | tail -n 1); then
        read -r fp _ ff _ <<<"$summary"
        ((rc == 0 || ff > 0)) || ff=1
        record "$name" "$fp" "$ff"
    else
        record "$name" 0 1
    fi
}
if ((BUILD_OK)) && [[ ${SKIP_SANITIZERS:-0} != 1 ]]; then
    run_suite sanitizers test/sanitize.sh
    run_suite valgrind test/valgrind.sh
fi

# ---- 2b. fuzzing smoke -----------------------------------------------------------------------
# Each libFuzzer target of fuzz/ for a few seconds (longer runs: fuzz/run.sh SECONDS).
if [[ -f fuzz/run.sh ]]; then
    run_suite fuzz fuzz/run.sh "${FUZZ_SECONDS:-10}"
fi

# ---- 3. TAP tests ---------------------------------------------------------------------------
# (prove is given the *.pl files: on a bare directory it only looks for *.t)
if compgen -G 'test/t/*.pl' >/dev/null; then
    if ((BUILD_OK)); then
        PERL_TEST_LIB="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/perl"
        if _is_root; then
            # PostgreSQL::Test::Cluster runs initdb/postgres itself, which refuse root: run prove as
            # the postgres user, in a copy of the repository that user owns (it writes tmp_check/).
            TAPDIR="$WORKDIR/tap"
            rm -rf "$TAPDIR"
            mkdir -p "$TAPDIR"
            tar -C "$REPO_ROOT" --exclude=./.git -cf - . | tar -C "$TAPDIR" -xf -
            chown -R postgres: "$TAPDIR"
        else
            TAPDIR="$REPO_ROOT"
        fi
        log "TAP tests: prove test/t/*.pl (in $TAPDIR, as $(pg_os_user))"
        rc=0
        # shellcheck disable=SC2016  # $1/$2 belong to the inner bash -c script
        run_logged "$OUT/prove.log" as_pg env \
            PATH="$PG_BINDIR:$PATH" TESTDIR="$TAPDIR" PG_CONFIG="$PG_CONFIG" \
            PG_REGRESS="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress" \
            bash -c 'cd "$1" && exec prove -v -I "$2" test/t/*.pl' prove "$TAPDIR" "$PERL_TEST_LIB" || rc=$?
        parse_prove "$OUT/prove.log" "$rc"
    else
        log "TAP tests: skipped, the build failed"
    fi
else
    log "TAP tests: no test/t/*.pl, skipped"
fi

# ---- summary --------------------------------------------------------------------------------
if ((${#FAILED_SUITES[@]} > 0)); then
    log "failed: ${FAILED_SUITES[*]}"
fi
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
((TOTAL_FAILED == 0 && BUILD_OK))
