#!/usr/bin/env bash
# Makes the replay captures (Captures/replay/, issue 19: `imscope replay`) from real Socket.IO peers on the
# loopback interface: two users u1 and u2 (python-socketio clients, Tests/integration/im_probe.py) chatting
# through the IM server Captures/peers/im_server.py; the conversations are peers/replay_conversation.py's.
# Run as root, after `scripts/setup.sh test` (.venv/eio4, .venv/eio3, tcpdump).
#
# Usage: Captures/make-replay-captures.sh [-o OUTDIR | OUTDIR] [NAME...]
#   OUTDIR  where to write NAME.pcap, NAME.server.jsonl (the server's event log, imlog.py's format) and
#           NAME.probe.json (the clients' steps and what they saw) (default: Captures/replay/)
#   NAME    only these captures (default: all four)
#
#   replay-eio4-websocket          python-socketio 5.x (Engine.IO 4), websocket only, conversation "chat"
#   replay-eio3-polling-upgrade    python-socketio 4.6.1 (Engine.IO 3), polling then websocket, "chat"
#   replay-eio4-polling            python-socketio 5.x, polling only, "chat"
#   replay-eio4-namespace          python-socketio 5.x, websocket, namespace /im (u2 in the auth dict),
#                                  conversation "room" (chatroom 100/102/101, a chat with a binary attachment)
# All: server on 127.0.0.1:9092 (MSS 1460), ping interval 25 s / timeout 20 s (each conversation takes
# about 2 s, so the Engine.IO 4 captures hold no ping; the Engine.IO 3 client pings once at connect),
# tcpdump -i lo (Ethernet), pcap us, filter "tcp port 9092".
#
# The captures sit in their own directory because test_captures.py, test_tcp.py and test_sio.py take
# every Captures/*.pcap* to be one of the six Socket.IO captures of Captures/README.md.
# tcpdump runs with -U --immediate-mode -B 65536 (as make-captures.sh); the script fails if tcpdump
# reports kernel drops, tshark (when installed) sees a lost segment, or the conversation did not go as
# planned (a wait timed out, an ack is not ok, a client ended on another transport). Port 9092 must be free.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
PORT=9092
FILTER="tcp port $PORT"
PROBE=$repo/Tests/integration/im_probe.py
CONV=$here/peers/replay_conversation.py
ALL=(replay-eio4-websocket replay-eio3-polling-upgrade replay-eio4-polling replay-eio4-namespace)

PROG=make-replay-captures
. "$here/lib-capture.sh"

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }

parse_args "$here/replay" "$@"
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")

require_capture_setup tcpdump "eio4 eio3"
setup_work

# make_capture NAME VENV TRANSPORTS CONVERSATION [NAMESPACE]
make_capture() {
    local name=$1 venv=$2 transports=$3 kind=$4 ns=${5:-/} bg=
    # a polling-only python-engineio 4 client blocks 30 s in disconnect() on its pending GET, which the
    # server leaves open after the CLOSE: disconnect in the background (the GET is cut at the probe's exit)
    [ "$transports" = polling ] && bg=--background-disconnect
    local py=$repo/.venv/$venv/bin/python pcap=$out/$1.pcap final=${3##*,}
    rm -f "$pcap" "$out/$name.server.jsonl" "$out/$name.probe.json"
    start_peer_server "$py" "$here/peers/im_server.py" --port $PORT --namespace "$ns" --ping-interval 25 \
        --ping-timeout 20 --mss 1460 --log "$out/$name.server.jsonl"
    start_capture tcpdump lo "" "$pcap" micro "$name"
    log "$name: im_probe.py ($venv, $transports, namespace $ns, conversation $kind) -> im_server.py, tcpdump -i lo -> $pcap"
    python3 "$CONV" steps "$kind" $bg >"$work/$name.steps.json"
    timeout 60 "$py" "$PROBE" --url "http://127.0.0.1:$PORT" --namespace "$ns" --transports "$transports" \
        <"$work/$name.steps.json" >"$work/$name.out.json" 2>"$work/$name.probe.err" ||
        { log "im_probe failed:"; cat "$work/$name.probe.err" >&2; exit 1; }
    # let the last FIN/ACKs through, stop the server, then the capture
    sleep 0.5
    stop_server
    sleep 0.7
    stop_capture "$capture_pid" "$name" "$pcap"
    python3 "$CONV" check "$kind" --transport "$final" <"$work/$name.out.json" ||
        { log "$name: the conversation did not go as planned"; exit 1; }
    python3 - "$work/$name.steps.json" "$work/$name.out.json" >"$out/$name.probe.json" <<'PY'
import json, sys
steps, out = (json.load(open(f)) for f in sys.argv[1:3])
json.dump({"steps": steps, **out}, sys.stdout, indent=1, ensure_ascii=False)
print()
PY
    chmod 644 "$out/$name.server.jsonl" "$out/$name.probe.json"
    check_capture "$pcap" || exit 1
    local size
    size=$(stat -c %s "$pcap")
    [ "$size" -lt 102400 ] || { log "$pcap is $size bytes (should stay under 100 KB)"; exit 1; }
    log "wrote $pcap ($size bytes)"
}

for n in "${names[@]}"; do
    case $n in
        replay-eio4-websocket) make_capture "$n" eio4 websocket chat ;;
        replay-eio3-polling-upgrade) make_capture "$n" eio3 polling,websocket chat ;;
        replay-eio4-polling) make_capture "$n" eio4 polling chat ;;
        replay-eio4-namespace) make_capture "$n" eio4 websocket room /im ;;
    esac
done
exit 0
