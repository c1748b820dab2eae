#!/usr/bin/env bash
# compare-outputs.sh — prove that a refactor left imscope's output byte for byte the same.
#
# Usage: scripts/compare-outputs.sh BASE_BINARY NEW_BINARY [OUTDIR]
#
# For every capture (*.pcap, *.pcapng, recursively) under Captures/ and ../shared/outside/ (the latter with
# --any-port: its traffic is on ports other than 9092), every --layer (tcp ws eio sio im) and every --format
# (text jsonl json), BASE runs once as `imscope read FILE --layer L --format F [--any-port] --jobs 1`, and NEW runs
# the same command four times: with --jobs 1, --jobs 2, --jobs 3 and without --jobs (its default). Each NEW run
# must give BASE's stdout (cmp), stderr (cmp) and exit status. What it proves: on these inputs, NEW's output is
# identical to BASE's single-threaded output, whatever the thread count.
#
# Prints `compare: N runs, M differ` (N = NEW runs compared) and, for each difference, the command and the
# first differing lines. Exit status: 0 when all are equal, 1 when any differs, 2 on a usage error.
# One exception: when BASE and NEW both die of the same signal (a trap) with the same stderr, how much of the
# buffered stdout got out before the crash varies with --jobs and from run to run; such a run is listed as
# "crashed alike" and counts as a difference only with STRICT=1.
# OUTDIR (default: a new temporary directory) keeps the outputs of the cases that differ.
# Environment: JOBS (parallel cases, default 2), TIMEOUT (seconds per run, default 300; a hang exits 124).
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 BASE_BINARY NEW_BINARY [OUTDIR]" >&2
    exit 2
fi
for b in "$1" "$2"; do
    [[ -x $b ]] || { echo "$0: $b is not an executable" >&2; exit 2; }
done
BASE=$(readlink -f "$1")
NEW=$(readlink -f "$2")
OUT=${3:-$(mktemp -d /tmp/compare-outputs.XXXXXX)}
mkdir -p "$OUT"
OUT=$(readlink -f "$OUT")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for d in "$ROOT/Captures" "$ROOT/../shared/outside"; do
    [[ -d $d ]] || { echo "$0: no capture directory $d" >&2; exit 2; }
done
export BASE NEW OUT TIMEOUT=${TIMEOUT:-300}

# One case, a line `FILE <TAB> LAYER <TAB> FORMAT <TAB> [EXTRA FLAG]`. Runs BASE once and NEW four times; appends
# one line per NEW run to $OUT/results:
# `same|differ|crashed <TAB> what differs <TAB> case dir <TAB> jobs variant <TAB> NEW's command`.
run_case() {
    local file layer format extra
    IFS=$'\t' read -r file layer format extra <<<"$1"
    local args=(read "$file" --layer "$layer" --format "$format" ${extra:+"$extra"})
    local dir
    dir="$OUT/cases/$(printf '%s' "${args[*]}" | md5sum | cut -c1-12)"
    mkdir -p "$dir"
    printf '%s\n' "${args[*]}" >"$dir/args"
    local brc=0 rc
    # The braces' 2>/dev/null only silences bash's "Illegal instruction" notice when a run dies of a signal.
    { timeout "$TIMEOUT" "$BASE" "${args[@]}" --jobs 1 >"$dir/base.out" 2>"$dir/base.err" </dev/null; } \
        2>/dev/null || brc=$?
    echo "$brc" >"$dir/base.rc"
    local keep=0 j jobs_args what line
    for j in 1 2 3 default; do
        jobs_args=(); [[ $j == default ]] || jobs_args=(--jobs "$j")
        rc=0
        { timeout "$TIMEOUT" "$NEW" "${args[@]}" "${jobs_args[@]}" \
            >"$dir/new-$j.out" 2>"$dir/new-$j.err" </dev/null; } 2>/dev/null || rc=$?
        echo "$rc" >"$dir/new-$j.rc"
        what=""
        cmp -s "$dir/base.out" "$dir/new-$j.out" || what+=" stdout"
        cmp -s "$dir/base.err" "$dir/new-$j.err" || what+=" stderr"
        [[ $rc == "$brc" ]] || what+=" exit($brc->$rc)"
        if [[ -z $what ]]; then
            rm -f "$dir/new-$j".{out,err,rc}
            line="same"
        elif [[ $what == " stdout" && $brc -gt 128 && ${STRICT:-0} != 1 ]]; then
            keep=1 line="crashed" what="both died of SIG$(kill -l $((brc - 128))); partial stdout differs"
        else
            keep=1 line="differ"
        fi
        # Small single-line appends with O_APPEND do not interleave between the parallel workers.
        printf '%s\t%s\t%s\t%s\t%s\n' "$line" "${what# }" "$dir" "$j" \
            "$NEW ${args[*]} ${jobs_args[*]:-}" >>"$OUT/results"
    done
    # All equal: drop the outputs, but keep a non-zero BASE run's exit status and stderr for the summary.
    if [[ $keep == 0 ]]; then
        if [[ $brc == 0 ]]; then rm -rf "$dir"; else rm -f "$dir/base.out"; fi
    fi
}
export -f run_case

# The case list: one line per (file, layer, format, extra flags), fields separated by tabs.
: >"$OUT/results"
rm -rf "$OUT/cases"
cases="$OUT/cases.tsv"
{
    find "$ROOT/Captures" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort | sed 's/$/\t/'
    find "$ROOT/../shared/outside" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort | sed 's/$/\t--any-port/'
} | while IFS=$'\t' read -r file extra; do
    file=$(readlink -f "$file")
    for layer in tcp ws eio sio im; do
        for format in text jsonl json; do
            printf '%s\t%s\t%s\t%s\n' "$file" "$layer" "$format" "$extra"
        done
    done
done >"$cases"

ncases=$(wc -l <"$cases")
nfiles=$(cut -f1 "$cases" | sort -u | wc -l)
echo "compare: $nfiles captures, $ncases cases, BASE=$BASE NEW=$NEW, outputs in $OUT" >&2
start=$SECONDS
# shellcheck disable=SC2016  # $1 is the inner bash's: one line of $cases
xargs -d '\n' -P "${JOBS:-2}" -n 1 bash -c 'run_case "$1"' _ <"$cases" || true

total=$(wc -l <"$OUT/results")
differ=$(grep -c '^differ' "$OUT/results" || true)
expected=$((ncases * 4))
if [[ $total != "$expected" ]]; then
    echo "compare: only $total of $expected runs reported (a worker failed)" >&2
    differ=$((differ + expected - total))
fi

# BASE runs that did not exit 0 (not a difference, but worth knowing).
nonzero=$(find "$OUT/cases" -name base.rc -exec grep -Lx 0 {} + 2>/dev/null || true)
if [[ -n $nonzero ]]; then
    echo "note: BASE exited non-zero in $(wc -l <<<"$nonzero") case(s):"
    while read -r rcfile; do
        d=$(dirname "$rcfile")
        rc=$(cat "$rcfile"); sig=""; [[ $rc -gt 128 ]] && sig=" (SIG$(kill -l $((rc - 128))))"
        echo "  exit $rc$sig: $(cat "$d/args")  [stderr: $(head -c 200 "$d/base.err" | head -n 1)]"
    done <<<"$nonzero" | sort -k4
fi

# Runs that crashed alike (see the header), one line each; then each difference: the command, what differs,
# cmp's first differing byte and line, and diff's first lines.
while IFS=$'\t' read -r status what dir j cmd; do
    if [[ $status == crashed ]]; then echo "crashed alike ($what): $cmd"; continue; fi
    echo
    echo "DIFFER ($what): $cmd"
    echo "  base:  $BASE $(cat "$dir/args") --jobs 1"
    for s in out err; do
        cmp "$dir/base.$s" "$dir/new-$j.$s" >/dev/null 2>&1 && continue
        echo "  std$s: $(cmp "$dir/base.$s" "$dir/new-$j.$s" 2>&1 | head -n 1)"
        diff -a "$dir/base.$s" "$dir/new-$j.$s" | head -n 6 | sed 's/^/    /'  || true
    done
done < <(grep -E '^(crashed|differ)' "$OUT/results" | sort -s -k1,1 || true)

echo
crashed=$(grep -c '^crashed' "$OUT/results" || true)
echo "compare: $expected runs, $differ differ (+ $crashed crashed alike, not counted; BASE ran $ncases times;" \
    "$((SECONDS - start)) s)"
[[ $differ == 0 ]]
