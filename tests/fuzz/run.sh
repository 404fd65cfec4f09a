#!/bin/sh
# run.sh BUILD SECONDS NAME... -- run each libFuzzer harness for SECONDS from
# its seed corpus (tests/fuzz/corpus/NAME, only read; what the fuzzer finds
# goes to BUILD/fuzz/corpus-NAME).  SECONDS 0: each corpus once.  A crash
# leaves its input in BUILD/fuzz/ and the script fails naming it.
set -u
build=$1; secs=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
passed=0; failed=0
for name in "$@"; do
    bin="$build/fuzz/fuzz_$name"
    work="$build/fuzz/corpus-$name"
    mkdir -p "$work"
    if [ "$secs" = 0 ]; then
        args="-runs=0"
    else
        args="-max_total_time=$secs -print_final_stats=1"
    fi
    # shellcheck disable=SC2086
    if "$bin" $args -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$build/fuzz/$name-" \
            "$work" "$here/corpus/$name" > "$build/fuzz/$name.log" 2>&1; then
        echo "fuzz: $name ok ($(grep -c . "$build/fuzz/$name.log") log lines; corpus $(ls "$work" | wc -l) new)"
        passed=$((passed + 1))
    else
        echo "fuzz: $name FAILED, see $build/fuzz/$name.log:"
        tail -30 "$build/fuzz/$name.log"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
