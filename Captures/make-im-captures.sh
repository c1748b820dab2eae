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

PROG=make-im-captures
. "$here/lib-capture.sh"

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

out=$here/im
while [ $# -gt 0 ]; do
    case $1 in
        -o|--out) out=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) log "unknown option $1"; usage >&2; exit 2 ;;
        *) out=$1; shift ;;
    esac
done

require_capture_setup tcpdump eio4
setup_work

pcap=$out/$NAME.pcap
rm -f "$pcap" "$out/$NAME.client.jsonl" "$out/$NAME.server.jsonl"

# the server (MSS 1460 and a 4 KiB receive buffer, as for the other captures)
start_peer_server "$PY" "$here/peers/rules_server.py" --port $PORT --ping-interval 1 --ping-timeout 2 --mss 1460 \
    --rcvbuf 4096 --log "$out/$NAME.server.jsonl"

# the capture
start_capture tcpdump lo "" "$pcap" micro "$NAME"

log "$NAME: rules_client.py -> rules_server.py on 127.0.0.1:$PORT, tcpdump -i lo -> $pcap"
timeout 120 "$PY" "$here/peers/rules_client.py" --url "http://127.0.0.1:$PORT" --rcvbuf 4096 \
    --log "$out/$NAME.client.jsonl" 2>"$work/client.err" || { log "client failed:"; cat "$work/client.err" >&2; exit 1; }

# let the last FIN/ACKs through, stop the server, then the capture
sleep 0.5
stop_server
sleep 0.7
stop_capture "$capture_pid" "$NAME" "$pcap"
chmod 644 "$out/$NAME.client.jsonl" "$out/$NAME.server.jsonl"
check_capture "$pcap" || exit 1
size=$(stat -c %s "$pcap")
[ "$size" -lt 1048576 ] || { log "$pcap is $size bytes (should stay well under 1 MB)"; exit 1; }
log "wrote $pcap ($size bytes)"
exit 0
