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

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

out=$here
names=()
while [ $# -gt 0 ]; do
    case $1 in
        -o|--out) out=$2; out_set=1; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "make-captures: unknown option $1" >&2; usage >&2; exit 2 ;;
        *)
            case " ${ALL[*]} " in
                *" $1 "*) names+=("$1") ;;
                *) if [ ${#names[@]} -eq 0 ] && [ -z "${out_set:-}" ]; then out=$1; out_set=1
                   else echo "make-captures: unknown capture '$1' (known: ${ALL[*]})" >&2; exit 2; fi ;;
            esac
            shift ;;
    esac
done
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")

[ "$(id -u)" = 0 ] || { echo "make-captures: must run as root (packet capture)" >&2; exit 1; }
for tool in tcpdump dumpcap; do
    command -v $tool >/dev/null || { echo "make-captures: $tool missing (scripts/setup.sh test)" >&2; exit 1; }
done
for v in eio4 eio3; do
    [ -x "$repo/.venv/$v/bin/python" ] || { echo "make-captures: .venv/$v missing (scripts/setup.sh test)" >&2; exit 1; }
done
if command -v ss >/dev/null && [ -n "$(ss -Htln "sport = :$PORT")" ]; then
    echo "make-captures: something already listens on port $PORT" >&2; exit 1
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/make-captures.XXXXXX)
bg_pids=()
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

log() { echo "make-captures: $*" >&2; }

# wait_for_line FILE PATTERN PID WHAT: until FILE contains PATTERN (10 s), failing if PID dies.
wait_for_line() {
    local i
    for i in $(seq 200); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || { log "$4 exited early:"; cat "$1" >&2; exit 1; }
        sleep 0.05
    done
    log "$4 did not start:"; cat "$1" >&2; exit 1
}

forget_pid() { local p keep=(); for p in "${bg_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; bg_pids=("${keep[@]}"); }

# start_server VENV HOST LOG -> $server_pid
start_server() {
    rm -f "$work/server.ready"
    "$repo/.venv/$1/bin/python" "$here/peers/server.py" --host "$2" --port $PORT \
        --ping-interval 1 --ping-timeout 2 --mss 1460 --rcvbuf 4096 --log "$3" --ready-file "$work/server.ready" 2>"$work/server.err" &
    server_pid=$!
    bg_pids+=("$server_pid")
    local i
    for i in $(seq 300); do
        [ -s "$work/server.ready" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || { log "server exited:"; cat "$work/server.err" >&2; exit 1; }
        sleep 0.05
    done
    log "server did not start"; cat "$work/server.err" >&2; exit 1
}

stop_server() {
    kill -INT "$server_pid"
    wait "$server_pid" || { log "server failed:"; cat "$work/server.err" >&2; exit 1; }
    forget_pid "$server_pid"
}

# start_capture TOOL IFACE LINKTYPE FILE PRECISION TAG -> $capture_pid, stderr in $work/TAG.err
#   TOOL tcpdump (pcap, PRECISION micro|nano) or dumpcap (pcapng; dumpcap 4.0 records nanoseconds)
start_capture() {
    local tool=$1 iface=$2 lt=$3 file=$4 prec=$5 tag=$6 err="$work/$6.err"
    rm -f "$file"
    if [ "$tool" = tcpdump ]; then
        # -U and --immediate-mode: every packet is handed over and written at once, so nothing is
        # left in the kernel ring when SIGINT arrives; -Z root: write as root (no privilege drop).
        # -B 65536 (KiB): in immediate mode every ring slot holds a full snaplen, and a 2 MiB
        # ring overflows on a burst of large loopback segments ("dropped by kernel").
        tcpdump -i "$iface" ${lt:+-y "$lt"} -U --immediate-mode -B 65536 -Z root -s 262144 \
            --time-stamp-precision="$prec" -w "$file" "$FILTER" 2>"$err" &
        capture_pid=$!
        bg_pids+=("$capture_pid")
        wait_for_line "$err" "listening on" "$capture_pid" "tcpdump"
    else
        dumpcap -i "$iface" ${lt:+-y "$lt"} -n -B 64 -s 262144 -f "$FILTER" -w "$file" 2>"$err" &
        capture_pid=$!
        bg_pids+=("$capture_pid")
        wait_for_line "$err" "Capturing on" "$capture_pid" "dumpcap"
    fi
    # the socket is bound and filtering once the tool says so; a moment more for good measure
    sleep 0.2
}

stop_capture() { # PID TAG FILE
    kill -INT "$1"
    wait "$1" || { log "capture $2 failed:"; cat "$work/$2.err" >&2; exit 1; }
    forget_pid "$1"
    chmod 644 "$3"
    grep -Ei "captured|dropped" "$work/$2.err" | sed "s/^/make-captures:   $2: /" >&2 || true
    # a capture that lost packets is useless as a reassembly reference: fail loudly
    local drops
    drops=$( { grep -Eo '^[0-9]+ packets dropped by kernel' "$work/$2.err" | grep -Eo '^[0-9]+' || true;
               grep -Eo "received/dropped on interface .*: [0-9]+/[0-9]+" "$work/$2.err" | grep -Eo '[0-9]+$' || true; } |
             awk '{s+=$1} END {print s+0}')
    if [ "$drops" != 0 ]; then log "capture $2 dropped $drops packets"; exit 1; fi
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

# check_capture FILE: no segment lost in the capture (tshark's TCP analysis), when tshark is there
check_capture() {
    command -v tshark >/dev/null || return 0
    local lost
    lost=$(tshark -r "$1" -Y 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment' -T fields \
        -e frame.number 2>/dev/null | wc -l)
    if [ "$lost" != 0 ]; then log "$1: tshark sees $lost lost/unseen segments"; exit 1; fi
}

# let the last FIN/ACKs through, stop the server, then the capture(s)
finish() { # NAME CAPTURE_PID [NAME2 CAPTURE_PID2]
    sleep 0.5
    stop_server
    sleep 0.7
    stop_capture "$2" "$1" "$(ls "$out/$1".pcap*)"
    [ $# -lt 4 ] || stop_capture "$4" "$3" "$out/$3.pcap"
    local f
    for f in "$out/$1".pcap* ${3:+"$out/$3".pcap*}; do check_capture "$f"; done
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
        local client_pid=$! i
        bg_pids+=("$client_pid")
        for i in $(seq 300); do
            [ -s "$work/client.ready" ] && break
            kill -0 "$client_pid" 2>/dev/null || { log "client exited"; cat "$work/client.err" >&2; exit 1; }
            sleep 0.05
        done
        [ -s "$work/client.ready" ] || { log "client did not connect"; exit 1; }
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
