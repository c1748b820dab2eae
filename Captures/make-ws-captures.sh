#!/usr/bin/env bash
# Makes the WebSocket test captures (Captures/ws/) from real peers on the loopback interface, and
# the crafted decompression bomb. Run as root, after `scripts/setup.sh test` (.venv/eio4, tcpdump).
#
# Usage: Captures/make-ws-captures.sh [-o OUTDIR | OUTDIR] [NAME...]
#   OUTDIR  where to write NAME.pcap, NAME.client.jsonl.gz, NAME.server.jsonl.gz (default: Captures/ws/;
#           the peers' logs hold every message in full, so they are gzipped: gzip -n, reproducible);
#           a first positional argument that is not a capture name is taken as OUTDIR
#   NAME    one or more of the captures below (default: the three peer captures)
#
#   ws-deflate-lo            aiohttp client and server (peers/deflate_*.py), compress=15: permessage-deflate
#                            with context takeover both ways; large and small texts, binary, ping/pong,
#                            close with code and reason; tcpdump -i lo (Ethernet), pcap us
#   ws-deflate-nocontext-lo  the same conversation with server_no_context_takeover and
#                            client_no_context_takeover negotiated
#   eio4-ws-midstream-lo     python-socketio 5.x (peers/server.py, peers/stream_client.py), websocket only;
#                            the capture starts while the client is in the middle of sending a ~100 KB
#                            message (no handshake, the client's stream starts inside a frame), then a
#                            second session with its handshake
#   ws-bomb                  (not made by default; no peers, no root) the crafted decompression bomb:
#                            Tests/integration/ws_craft.py bomb OUTDIR/ws-bomb.pcap (about 1 MB; the
#                            tests make their own copy in a temporary directory)
#
# Every capture uses the filter "tcp port 9092" and MSS 1460 / 4 KiB receive buffers on both peers
# (see Captures/README.md), so large messages span many TCP segments.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
PORT=9092
FILTER="tcp port $PORT"
PEERS=(ws-deflate-lo ws-deflate-nocontext-lo eio4-ws-midstream-lo)
ALL=("${PEERS[@]}" ws-bomb)
PY=$repo/.venv/eio4/bin/python

PROG=make-ws-captures
. "$here/lib-capture.sh"

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }

parse_args "$here/ws" "$@"
[ ${#names[@]} -gt 0 ] || names=("${PEERS[@]}")

needs_peers=0
for n in "${names[@]}"; do [ "$n" = ws-bomb ] || needs_peers=1; done
[ $needs_peers = 0 ] || require_capture_setup tcpdump eio4
setup_work

# start_server SCRIPT LOG [ARGS...] -> $server_pid
start_server() {
    local script=$1 slog=$2
    shift 2
    start_peer_server "$PY" "$here/peers/$script" --host 127.0.0.1 --port $PORT --log "$slog" "$@"
}

# start_capture_lo FILE -> $capture_pid: tcpdump -i lo (Ethernet), pcap us, as make-captures.sh does it
start_capture_lo() { start_capture tcpdump lo "" "$1" micro "$(basename "$1" .pcap)"; }

# stop_capture_lo FILE: stop it, fail on kernel drops; returns 1 if tshark sees a lost segment
stop_capture_lo() {
    stop_capture "$capture_pid" "$(basename "$1" .pcap)" "$1"
    check_capture "$1"
}

deflate_capture() { # NAME CLIENT-ARGS...
    local name=$1
    shift
    log "$name: aiohttp compress=15 ${*:-(context takeover)}, tcpdump -i lo -> $name.pcap"
    start_server deflate_server.py "$out/$name.server.jsonl"
    start_capture_lo "$out/$name.pcap"
    timeout 60 "$PY" "$here/peers/deflate_client.py" --url "ws://127.0.0.1:$PORT/ws" --log "$out/$name.client.jsonl" \
        "$@" 2>"$work/client.err" || { log "client failed:"; cat "$work/client.err" >&2; exit 1; }
    sleep 0.5
    stop_server
    sleep 0.5
    stop_capture_lo "$out/$name.pcap" || exit 1
}

# does the client's first captured payload byte of the first connection start a frame? (then the
# capture did not start inside a frame, and is made again)
starts_on_boundary() {
    python3 - "$1" "$repo/Tests/integration" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
import roughen
pcap = roughen.read_pcap(sys.argv[1])
for r in pcap.records:
    s = roughen.parse(r.data, pcap.linktype)
    if s is not None and s.dport == 9092 and s.payload_len > 0:
        p = r.data[s.payload:s.ip_end]
        header = len(p) >= 2 and p[0] & 0x70 == 0 and (p[0] & 0x0F) in (0, 1, 2, 8, 9, 10) and p[1] & 0x80
        sys.exit(0 if header else 1)
sys.exit(0)
EOF
}

midstream_capture() { # NAME
    local name=$1 attempt
    for attempt in 1 2 3; do
        log "$name: python-socketio 5.x websocket, tcpdump -i lo starts while the client sends (attempt $attempt)"
        start_server server.py "$out/$name.server.jsonl" --mss 1460 --rcvbuf 4096
        rm -f "$work/client.ready" "$work/client.go"
        timeout 120 "$PY" "$here/peers/stream_client.py" --url "http://127.0.0.1:$PORT" --log "$out/$name.client.jsonl" \
            --ready-file "$work/client.ready" --go-file "$work/client.go" 2>"$work/client.err" &
        local client_pid=$!
        bg_pids+=("$client_pid")
        wait_for "$work/client.ready" "$client_pid" "stream client" "" "$work/client.err"
        sleep 0.7
        start_capture_lo "$out/$name.pcap"
        touch "$work/client.go"
        wait "$client_pid" || { log "client failed:"; cat "$work/client.err" >&2; exit 1; }
        forget_pid "$client_pid"
        sleep 0.5
        stop_server
        sleep 0.5
        # tshark may call the first segments of a capture that starts mid-transfer "ACKed unseen"
        stop_capture_lo "$out/$name.pcap" || log "(expected for a capture that starts mid-transfer)"
        if starts_on_boundary "$out/$name.pcap"; then
            log "$name: the client's first captured bytes start a frame; again"
            continue
        fi
        return 0
    done
    log "$name: the capture never started inside a frame"; exit 1
}

compress_logs() { # NAME
    local side
    for side in client server; do gzip -n -9 -f "$out/$1.$side.jsonl"; done
}

for n in "${names[@]}"; do
    case $n in
        ws-deflate-lo) deflate_capture "$n"; compress_logs "$n" ;;
        ws-deflate-nocontext-lo) deflate_capture "$n" --no-context-takeover; compress_logs "$n" ;;
        eio4-ws-midstream-lo) midstream_capture "$n"; compress_logs "$n" ;;
        ws-bomb)
            log "ws-bomb: crafted by Tests/integration/ws_craft.py"
            python3 "$repo/Tests/integration/ws_craft.py" bomb "$out/ws-bomb.pcap" ;;
    esac
done
for n in "${names[@]}"; do
    [ -f "$out/$n.pcap" ] && log "wrote $out/$n.pcap ($(stat -c %s "$out/$n.pcap") bytes)"
done
exit 0
