#!/usr/bin/env bash
# Makes the committed test captures from real Socket.IO peers (Captures/peers/) on the loopback
# interface. Run as root, after `scripts/setup.sh test` (it needs .venv/eio4 and .venv/eio3,
# tcpdump and dumpcap).
#
# Usage: Captures/make-captures.sh [-o OUTDIR | OUTDIR] [NAME...]
#   OUTDIR  where to write NAME.pcap[ng], NAME.client.jsonl, NAME.server.jsonl (default: Captures/);
#           a first positional argument that is not a capture name is taken as OUTDIR
#   NAME    one or more of the captures below (default: all), without extension
#
#   eio4-websocket-lo              Engine.IO 4, websocket only, 2 sessions, tcpdump -i lo (Ethernet), pcap us
#   eio4-polling-upgrade-any       Engine.IO 4, session 1 polling only, session 2 polling then upgrade,
#                                  dumpcap -i any -y LINUX_SLL2, pcapng ns (dumpcap 4.0 asks for ns itself)
#   eio3-polling-upgrade-sll       Engine.IO 3, as above, tcpdump -i any -y LINUX_SLL, pcap us
#   eio3-websocket-ipv6            Engine.IO 3 on [::1], websocket only, 2 sessions, dumpcap -i lo, pcapng ns;
#                                  the same run is also captured by tcpdump --time-stamp-precision=nano
#                                  into eio3-websocket-ipv6-nano.pcap (its logs are symlinks)
#   eio4-midstream-lo              Engine.IO 4, websocket only, 2 sessions; the capture starts about 1 s after
#                                  session 1 is connected, so its handshake is missing; tcpdump -i lo, pcap us
#
# Every capture uses the filter "tcp port 9092". The server pings every second (ping timeout 2 s),
# so pings show up in the captures and a polling client's last GET returns soon after it leaves.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
PORT=9092
FILTER="tcp port $PORT"
ALL=(eio4-websocket-lo eio4-polling-upgrade-any eio3-polling-upgrade-sll eio3-websocket-ipv6 eio4-midstream-lo)

PROG=make-captures
. "$here/lib-capture.sh"

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

parse_args "$here" "$@"
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")

require_capture_setup "tcpdump dumpcap" "eio4 eio3"
setup_work

# start_server VENV HOST LOG -> $server_pid
start_server() {
    start_peer_server "$repo/.venv/$1/bin/python" "$here/peers/server.py" --host "$2" --port $PORT \
        --ping-interval 1 --ping-timeout 2 --mss 1460 --rcvbuf 4096 --log "$3"
}

# run_client VENV URL SEED LOG SESSION... (extra client options in $client_opts)
run_client() {
    local venv=$1 url=$2 seed=$3 clog=$4 s args=()
    shift 4
    for s in "$@"; do args+=(--session "$s"); done
    timeout 120 "$repo/.venv/$venv/bin/python" "$here/peers/client.py" --url "$url" --seed "$seed" \
        --rcvbuf 4096 --log "$clog" "${args[@]}" ${client_opts:-} 2>"$work/client.err" || {
        log "client failed:"; cat "$work/client.err" >&2; exit 1; }
}

# one capture: NAME VENV HOST TOOL IFACE LINKTYPE EXT PRECISION SEED SESSION...
simple_capture() {
    local name=$1 venv=$2 host=$3 tool=$4 iface=$5 lt=$6 ext=$7 prec=$8 seed=$9 url
    shift 9
    case $host in *:*) url="http://[$host]:$PORT" ;; *) url="http://$host:$PORT" ;; esac
    log "$name: $venv on $host, sessions $*, $tool -i $iface ${lt:-(default linktype)} -> $name.$ext"
    start_server "$venv" "$host" "$out/$name.server.jsonl"
    start_capture "$tool" "$iface" "$lt" "$out/$name.$ext" "$prec" "$name"
    local cap=$capture_pid
    run_client "$venv" "$url" "$seed" "$out/$name.client.jsonl" "$@"
    finish "$name" "$cap"
}

# let the last FIN/ACKs through, stop the server, then the capture(s)
finish() { # NAME CAPTURE_PID [NAME2 CAPTURE_PID2]
    sleep 0.5
    stop_server
    sleep 0.7
    stop_capture "$2" "$1" "$(ls "$out/$1".pcap*)"
    [ $# -lt 4 ] || stop_capture "$4" "$3" "$out/$3.pcap"
    local f
    for f in "$out/$1".pcap* ${3:+"$out/$3".pcap*}; do check_capture "$f" || exit 1; done
}

make_one() {
    case $1 in
    eio4-websocket-lo)
        simple_capture "$1" eio4 127.0.0.1 tcpdump lo "" pcap micro 1 websocket websocket ;;
    eio4-polling-upgrade-any)
        simple_capture "$1" eio4 127.0.0.1 dumpcap any LINUX_SLL2 pcapng micro 2 polling upgrade ;;
    eio3-polling-upgrade-sll)
        simple_capture "$1" eio3 127.0.0.1 tcpdump any LINUX_SLL pcap micro 3 polling upgrade ;;
    eio3-websocket-ipv6)
        local nano=eio3-websocket-ipv6-nano
        log "$1: eio3 on ::1, sessions websocket websocket, dumpcap -i lo -> $1.pcapng and tcpdump (nano) -> $nano.pcap"
        start_server eio3 ::1 "$out/$1.server.jsonl"
        start_capture dumpcap lo "" "$out/$1.pcapng" micro "$1"
        local cap1=$capture_pid
        start_capture tcpdump lo "" "$out/$nano.pcap" nano "$nano"
        local cap2=$capture_pid
        run_client eio3 "http://[::1]:$PORT" 4 "$out/$1.client.jsonl" websocket websocket
        finish "$1" "$cap1" "$nano" "$cap2"
        ln -sf "$1.client.jsonl" "$out/$nano.client.jsonl"
        ln -sf "$1.server.jsonl" "$out/$nano.server.jsonl" ;;
    eio4-midstream-lo)
        log "$1: eio4 on 127.0.0.1, sessions websocket websocket; tcpdump -i lo starts after session 1 connected"
        start_server eio4 127.0.0.1 "$out/$1.server.jsonl"
        rm -f "$work/client.ready" "$work/client.go"
        client_opts="--ready-file $work/client.ready --go-file $work/client.go" \
            run_client eio4 "http://127.0.0.1:$PORT" 5 "$out/$1.client.jsonl" websocket websocket &
        local client_pid=$!
        bg_pids+=("$client_pid")
        wait_for "$work/client.ready" "$client_pid" client "" "$work/client.err"
        sleep 1
        start_capture tcpdump lo "" "$out/$1.pcap" micro "$1"
        local cap=$capture_pid
        touch "$work/client.go"
        wait "$client_pid" || { log "client failed"; exit 1; }
        forget_pid "$client_pid"
        finish "$1" "$cap" ;;
    esac
}

for n in "${names[@]}"; do
    make_one "$n"
done
for n in "${names[@]}"; do
    for f in "$out/$n".pcap* "$out/$n"-nano.pcap; do
        if [ -f "$f" ]; then log "wrote $f ($(stat -c %s "$f") bytes)"; fi
    done
done
exit 0
