#!/usr/bin/env bash
# Makes the ImMessage rules capture (Captures/im/) from real Socket.IO peers on the loopback interface.
# Run as root, after `scripts/setup.sh test` (.venv/eio4, tcpdump).
#
# Usage: Captures/make-im-captures.sh [-o OUTDIR | OUTDIR]
#   OUTDIR  where to write im-rules-lo.pcap, im-rules-lo.client.jsonl, im-rules-lo.server.jsonl
#           (default: Captures/im/)
#
#   im-rules-lo   python-socketio 5.x, websocket only, 2 sessions (peers/rules_client.py against
#                 peers/rules_server.py; the messages and the rules each breaks: peers/rules_script.py);
#                 tcpdump -i lo (Ethernet), pcap us, filter "tcp port 9092", server pings every second
#
# The capture sits in its own directory because test_captures.py, test_tcp.py and test_sio.py take
# every Captures/*.pcap* to be one of the six Socket.IO captures of Captures/README.md.
# tcpdump runs with -U --immediate-mode -B 65536 (as make-captures.sh); the script fails if tcpdump
# reports kernel drops or tshark (when installed) sees a lost segment. Port 9092 must be free.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
PORT=9092
FILTER="tcp port $PORT"
NAME=im-rules-lo
PY=$repo/.venv/eio4/bin/python

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
log() { echo "make-im-captures: $*" >&2; }

out=$here/im
while [ $# -gt 0 ]; do
    case $1 in
        -o|--out) out=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) log "unknown option $1"; usage >&2; exit 2 ;;
        *) out=$1; shift ;;
    esac
done

[ "$(id -u)" = 0 ] || { log "must run as root (packet capture)"; exit 1; }
command -v tcpdump >/dev/null || { log "tcpdump missing (scripts/setup.sh test)"; exit 1; }
[ -x "$PY" ] || { log ".venv/eio4 missing (scripts/setup.sh test)"; exit 1; }
if command -v ss >/dev/null && [ -n "$(ss -Htln "sport = :$PORT")" ]; then
    log "something already listens on port $PORT"; exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/make-im-captures.XXXXXX)
bg_pids=()
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
forget_pid() { local p keep=(); for p in "${bg_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; bg_pids=("${keep[@]}"); }

pcap=$out/$NAME.pcap
rm -f "$pcap" "$out/$NAME.client.jsonl" "$out/$NAME.server.jsonl"

# the server (MSS 1460 and a 4 KiB receive buffer, as for the other captures)
"$PY" "$here/peers/rules_server.py" --port $PORT --ping-interval 1 --ping-timeout 2 --mss 1460 --rcvbuf 4096 \
    --log "$out/$NAME.server.jsonl" --ready-file "$work/server.ready" 2>"$work/server.err" &
server_pid=$!
bg_pids+=("$server_pid")
for i in $(seq 300); do
    [ -s "$work/server.ready" ] && break
    kill -0 "$server_pid" 2>/dev/null || { log "server exited:"; cat "$work/server.err" >&2; exit 1; }
    sleep 0.05
done
[ -s "$work/server.ready" ] || { log "server did not start"; cat "$work/server.err" >&2; exit 1; }

# the capture
tcpdump -i lo -U --immediate-mode -B 65536 -Z root -s 262144 --time-stamp-precision=micro \
    -w "$pcap" "$FILTER" 2>"$work/tcpdump.err" &
cap_pid=$!
bg_pids+=("$cap_pid")
for i in $(seq 200); do
    grep -q "listening on" "$work/tcpdump.err" 2>/dev/null && break
    kill -0 "$cap_pid" 2>/dev/null || { log "tcpdump exited:"; cat "$work/tcpdump.err" >&2; exit 1; }
    sleep 0.05
done
grep -q "listening on" "$work/tcpdump.err" || { log "tcpdump did not start"; cat "$work/tcpdump.err" >&2; exit 1; }
sleep 0.2

log "$NAME: rules_client.py -> rules_server.py on 127.0.0.1:$PORT, tcpdump -i lo -> $pcap"
timeout 120 "$PY" "$here/peers/rules_client.py" --url "http://127.0.0.1:$PORT" --rcvbuf 4096 \
    --log "$out/$NAME.client.jsonl" 2>"$work/client.err" || { log "client failed:"; cat "$work/client.err" >&2; exit 1; }

# let the last FIN/ACKs through, stop the server, then the capture
sleep 0.5
kill -INT "$server_pid"
wait "$server_pid" || { log "server failed:"; cat "$work/server.err" >&2; exit 1; }
forget_pid "$server_pid"
sleep 0.7
kill -INT "$cap_pid"
wait "$cap_pid" || { log "tcpdump failed:"; cat "$work/tcpdump.err" >&2; exit 1; }
forget_pid "$cap_pid"
chmod 644 "$pcap" "$out/$NAME.client.jsonl" "$out/$NAME.server.jsonl"
grep -Ei "captured|dropped" "$work/tcpdump.err" | sed "s/^/make-im-captures:   /" >&2 || true
drops=$(grep -Eo '^[0-9]+ packets dropped by kernel' "$work/tcpdump.err" | grep -Eo '^[0-9]+' || echo 0)
[ "$drops" = 0 ] || { log "tcpdump dropped $drops packets"; exit 1; }
if command -v tshark >/dev/null; then
    lost=$(tshark -r "$pcap" -Y 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment' -T fields \
        -e frame.number 2>/dev/null | wc -l)
    [ "$lost" = 0 ] || { log "$pcap: tshark sees $lost lost/unseen segments"; exit 1; }
fi
size=$(stat -c %s "$pcap")
[ "$size" -lt 1048576 ] || { log "$pcap is $size bytes (should stay well under 1 MB)"; exit 1; }
log "wrote $pcap ($size bytes)"
exit 0
