#!/usr/bin/env bash
# The replay part of `make demo`: starts the bundled IM server (Captures/peers/im_server.py, the one the tests
# use), replays a bundled capture of two users chatting against it, exports it as a replay script and replays
# that, multiplies it into 50 pairs of users with a latency goal, then replays the capture against a copy
# regressed on purpose (messageType 3 refused, messageType 33 no longer routed), and stops the servers whatever happens.
# Usage: scripts/demo-replay.sh [IMSCOPE] [CAPTURE]   (ports DEMO_PORT, DEMO_PORT+1; default 9192)
set -uo pipefail
cd "$(dirname "$0")/.."
imscope=${1:-.build/release/imscope}
capture=${2:-Captures/replay/replay-eio4-websocket.pcap}
port=${DEMO_PORT:-9192}
py=.venv/eio4/bin/python
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

start() { # port ready-file [im_server options]
    local p=$1 ready=$2
    shift 2
    "$py" Captures/peers/im_server.py --port "$p" --ready-file "$ready" "$@" >"$work/server-$p.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$ready" ] && return 0; sleep 0.1; done
    echo "demo: the IM server on port $p did not start:" >&2
    cat "$work/server-$p.log" >&2
    exit 1
}

start "$port" "$work/ready1"
start $((port + 1)) "$work/ready2" --regress nack-type:3 --regress drop-type:33

echo "== imscope replay $capture --server http://127.0.0.1:$port --junit replay.xml"
echo "   (the IM server as recorded: every recorded client replayed live, what the server sends compared)"
"$imscope" replay "$capture" --server "http://127.0.0.1:$port" --junit "$work/replay.xml" 2>&1
status=$?
echo "exit status $status (0: as recorded); the JUnit report has $(grep -c '<testcase' "$work/replay.xml") test cases"
[ "$status" = 0 ] || exit 1
echo
echo "== imscope export $capture -o session.json, then imscope replay session.json (a script to keep and edit)"
"$imscope" export "$capture" -o "$work/session.json" 2>&1
"$imscope" replay "$work/session.json" --server "http://127.0.0.1:$port" -q 2>&1 || exit 1
echo
echo "== imscope replay $capture --copies 50 --max-latency p99=1s (100 clients in 50 pairs, a latency gate)"
"$imscope" replay "$capture" --server "http://127.0.0.1:$port" --copies 50 --ramp 1 --max-latency p99=1s 2>&1 || exit 1
echo
echo "== the same against a regressed server (--regress nack-type:3 --regress drop-type:33)"
"$imscope" replay "$capture" --server "http://127.0.0.1:$((port + 1))" --timeout 3 2>&1
status=$?
echo "exit status $status (1: differences found)"
[ "$status" = 1 ]
