#!/usr/bin/env bash
#
# fuzz/run.sh [SECONDS]: build the libFuzzer harnesses of src/wire.c and run
# each for SECONDS (default 60), one after another.
#
#   - builds every fuzz_*.c here with
#       clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
#     against ../src/wire.c and -lcurl, in a temporary directory (nothing is
#     written into the repository);
#   - seeds each target's corpus (written below, plus fuzz/corpus/<target>/ when
#     that exists) and gives it a dictionary;
#   - runs  <target> -max_total_time=SECONDS -max_len=4096 <corpus>;
#   - prints, per target, the executions run, the corpus size and PASS/FAIL
#     (the first CHECK/sanitizer line and the reproducer for a FAIL);
#   - last line "N passed, M failed"; exit status 1 when M > 0 (a crash, leak,
#     timeout, OOM, sanitizer report, failed CHECK or a build failure).
#
# Environment:
#   TARGETS="escape data_url"   only these (default: every fuzz_*.c)
#   FUZZ_CFLAGS=...             extra compiler flags, e.g. -DFUZZ_SKIP_ESCAPE_LEN0
#   KEEP_WORKDIR=1              keep the temporary directory (kept anyway on a failure)
#   CORPUS_OUT=dir              copy each final corpus to dir/<target>/ (e.g. to grow
#                               fuzz/corpus/ between runs)
#
# If clang-14 is missing, it is installed with apt-get (clang-14, libclang-rt-14-dev
# for libFuzzer, libcurl4-openssl-dev for <curl/curl.h>).
set -u

SECONDS_PER_TARGET=${1:-60}
case $SECONDS_PER_TARGET in
	'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../src" && pwd)
CC=${CC:-clang-14}

# --- toolchain -------------------------------------------------------------
need_pkgs=()
command -v "$CC" >/dev/null 2>&1 || need_pkgs+=(clang-14 libclang-rt-14-dev)
if command -v "$CC" >/dev/null 2>&1 &&
	! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long s){return 0;}' |
	"$CC" -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1; then
	need_pkgs+=(libclang-rt-14-dev)
fi
if ! echo '#include <curl/curl.h>' | "${CC}" -E -x c - >/dev/null 2>&1 &&
	! echo '#include <curl/curl.h>' | cc -E -x c - >/dev/null 2>&1; then
	need_pkgs+=(libcurl4-openssl-dev)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
	echo "installing ${need_pkgs[*]}"
	SUDO=
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	if ! { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq "${need_pkgs[@]}"; }; then
		echo "apt-get install failed" >&2
		exit 1
	fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wire-fuzz.XXXXXX")
failed_any=0
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	if [ "${KEEP_WORKDIR:-0}" = 1 ] || [ "$failed_any" -ne 0 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# --- seeds and dictionaries --------------------------------------------------
# seed TARGET NAME PRINTF-FORMAT: one corpus file (printf so NUL bytes are \0)
seed() {
	mkdir -p "$WORK/corpus/$1"
	# shellcheck disable=SC2059  # the format is the seed, so that \0 is a NUL
	printf "$3" >"$WORK/corpus/$1/$2"
}

seed escape plain 'abc-DEF_123~'
seed escape dots '../..'
seed escape reserved '/?#[]@!$&()*+,;=%% '
seed escape nul 'a\0b\0\0'
seed escape utf8 '\303\245\342\202\254\360\237\230\200'
seed escape high '\377\200\001\177'
seed escape one 'x'

seed status s404 '\224\001'
seed status s503 '\367\001'
seed status s200 '\310\000'
seed status long '\377\377\377\377\377\377\377\177'

seed media_type json 'application/json'
seed media_type json_cs 'application/json; charset=utf-8'
seed media_type problem 'application/problem+json'
seed media_type vnd 'Application/VND.Signicat.V1+JSON ;x=y'
seed media_type text 'text/plain'
seed media_type slash 'application/a/b+json'
seed media_type tab 'application/json\t\t;'

seed data_url png 'data:image/png;base64,iVBORw0KGgo='
seed data_url empty_type 'data:;base64,'
seed data_url params 'data:text/plain;charset=utf-8;base64,QQ=='
seed data_url not_b64 'data:text/plain,hello'
seed data_url no_comma 'data:image/png;base64'
seed data_url plain 'iVBORw0KGgo='
seed data_url nul 'data:\0;base64,'

seed expand_path one '/assure/dossiers/{dossierId}\0dossierId\0d-1'
seed expand_path two '/assure/dossiers/{dossierId}/processes/{processId}\0dossierId\0abc\0processId\0../x'
seed expand_path three '/a/{x}/b/{y}/{z}?q#f\0x\0.\0y\0..\0z\0%%2F/?#'
seed expand_path missing '/a/{x}/{y}\0x\0v'
seed expand_path nullval '/a/{x}\0x'
seed expand_path empty '/a/{x}\0x\0'
seed expand_path unclosed '/a/{x\0x\0v'
seed expand_path dup '/{x}/{x}\0x\0\0x\0second'
seed expand_path nested '/{a{b}/}{\0a{b\0v'
seed expand_path literal '/plain/path/../.'

mkdir -p "$WORK/dict"
cat >"$WORK/dict/escape.dict" <<'EOF'
"."
".."
"%"
"%2E"
"/"
"\x00"
"~"
EOF
cat >"$WORK/dict/status.dict" <<'EOF'
EOF
cat >"$WORK/dict/media_type.dict" <<'EOF'
"application/"
"application/json"
"+json"
"json"
";"
" "
"\x09"
"/"
"charset=utf-8"
EOF
cat >"$WORK/dict/data_url.dict" <<'EOF'
"data:"
";base64"
";base64,"
","
"image/png"
"\x00"
EOF
cat >"$WORK/dict/expand_path.dict" <<'EOF'
"{"
"}"
"/"
"\x00"
"."
".."
"/../"
"?"
"#"
"%"
"{x}"
"\x00x\x00"
EOF

# --- build and run -------------------------------------------------------------
if [ -n "${TARGETS:-}" ]; then
	targets=$TARGETS
else
	targets=$(cd "$HERE" && for f in fuzz_*.c; do f=${f#fuzz_}; echo "${f%.c}"; done)
fi

passed=0
failed=0
summary=()
for t in $targets; do
	exe="$WORK/bin/fuzz_$t"
	log="$WORK/log/$t.log"
	mkdir -p "$WORK/bin" "$WORK/log" "$WORK/artifacts" "$WORK/corpus/$t"
	if [ -d "$HERE/corpus/$t" ]; then
		cp -p "$HERE/corpus/$t/"* "$WORK/corpus/$t/" 2>/dev/null || true
	fi
	echo "=== $t: building"
	# shellcheck disable=SC2086
	if ! (cd "$HERE" && "$CC" -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Wall -Wextra -I"$SRC" ${FUZZ_CFLAGS:-} "$SRC/wire.c" "fuzz_$t.c" -lcurl \
		-o "$exe") >"$WORK/log/$t.build" 2>&1; then
		cat "$WORK/log/$t.build"
		summary+=("$(printf '%-12s build FAILED' "$t")")
		failed=$((failed + 1))
		continue
	fi
	dict=()
	[ -s "$WORK/dict/$t.dict" ] && dict=(-dict="$WORK/dict/$t.dict")
	echo "=== $t: fuzzing for $SECONDS_PER_TARGET s"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$exe" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
		-artifact_prefix="$WORK/artifacts/$t-" "$WORK/corpus/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
	[ -n "$execs" ] || execs='?'
	ncorpus=$(find "$WORK/corpus/$t" -type f | wc -l)
	artifacts=$(find "$WORK/artifacts" -name "$t-*" -type f 2>/dev/null)
	if [ -n "${CORPUS_OUT:-}" ]; then
		mkdir -p "$CORPUS_OUT/$t" && cp -p "$WORK/corpus/$t/"* "$CORPUS_OUT/$t/" 2>/dev/null
	fi
	if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
		line=$(printf '%-12s %12s execs  corpus %5s  PASS' "$t" "$execs" "$ncorpus")
		passed=$((passed + 1))
	else
		line=$(printf '%-12s %12s execs  corpus %5s  FAIL (exit %s)' "$t" "$execs" "$ncorpus" "$rc")
		failed=$((failed + 1))
		failed_any=1
		echo "--- $t failed; from $log:"
		grep -m1 -A1 -E '^\*\*\* CHECK failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"
		grep -m12 -E '^ +#[0-9]+ .* in (wire_|curl_|LLVMFuzzerTestOneInput|check_|ref_)' "$log"
		for a in $artifacts; do
			echo "    input: $a"
			echo "    bytes ($(wc -c <"$a")): $(od -An -c "$a" | head -4 | tr -s ' ' | tr '\n' ' ')"
			echo "    reproduce: $exe $a"
		done
	fi
	echo "$line"
	summary+=("$line")
done

echo
echo "=== summary ($SECONDS_PER_TARGET s per target)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || { failed_any=1; exit 1; }
exit 0
