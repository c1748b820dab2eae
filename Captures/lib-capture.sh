# Shared parts of the capture scripts (make-captures.sh, make-ws-captures.sh, make-im-captures.sh,
# make-replay-captures.sh):
# argument parsing, the checks before a run, the background processes and their cleanup, starting
# and stopping a peer server and a capture tool (tcpdump or dumpcap) cleanly, and the checks of a
# finished capture (kernel drops, lost segments).
#
# Sourced, not run. The sourcing script sets first:
#   PROG    prefix of its messages (make-captures, ...)
#   here    the Captures/ directory; repo: the repository
#   PORT    the server's port; FILTER: the capture filter ("tcp port $PORT")
# and defines usage() (for -h) and, for parse_args, the array ALL of capture names.
# After setup_work: $out (absolute), $work (a temporary directory, removed on exit) and bg_pids
# (background processes, stopped with SIGINT on exit).

log() { echo "$PROG: $*" >&2; }

# parse_args DEFAULT_OUT ARG... -> $out, names[]: -o/--out OUTDIR, -h/--help, NAME... (one of ALL);
# a first positional argument that is not a capture name is taken as OUTDIR.
parse_args() {
    out=$1
    shift
    names=()
    local out_set=
    while [ $# -gt 0 ]; do
        case $1 in
            -o|--out) out=$2; out_set=1; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            -*) log "unknown option $1"; usage >&2; exit 2 ;;
            *)
                case " ${ALL[*]} " in
                    *" $1 "*) names+=("$1") ;;
                    *) if [ ${#names[@]} -eq 0 ] && [ -z "$out_set" ]; then out=$1; out_set=1
                       else log "unknown capture '$1' (known: ${ALL[*]})"; exit 2; fi ;;
                esac
                shift ;;
        esac
    done
}

# require_capture_setup TOOLS VENVS: root, the tools (space-separated), .venv/V for each venv, a free port
require_capture_setup() {
    local t v
    [ "$(id -u)" = 0 ] || { log "must run as root (packet capture)"; exit 1; }
    for t in $1; do
        command -v "$t" >/dev/null || { log "$t missing (scripts/setup.sh test)"; exit 1; }
    done
    for v in $2; do
        [ -x "$repo/.venv/$v/bin/python" ] || { log ".venv/$v missing (scripts/setup.sh test)"; exit 1; }
    done
    if command -v ss >/dev/null && [ -n "$(ss -Htln "sport = :$PORT")" ]; then
        log "something already listens on port $PORT"; exit 1
    fi
}

# setup_work: make $out absolute (creating it), a fresh $work, and the EXIT trap that stops every
# process still in bg_pids and removes $work
setup_work() {
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    work=$(mktemp -d "/tmp/$PROG.XXXXXX")
    bg_pids=()
    trap cleanup EXIT
}

cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}

forget_pid() { local p keep=(); for p in "${bg_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; bg_pids=("${keep[@]}"); }

# wait_for FILE PID WHAT [PATTERN [ERRFILE]]: until FILE is not empty (or holds PATTERN), 15 s,
# failing (with ERRFILE, default FILE, on stderr) if PID dies first
wait_for() {
    local file=$1 pid=$2 what=$3 pattern=${4:-} err=${5:-$1} i
    for i in $(seq 300); do
        if [ -n "$pattern" ]; then grep -q "$pattern" "$file" 2>/dev/null && return 0
        else [ -s "$file" ] && return 0; fi
        kill -0 "$pid" 2>/dev/null || { log "$what exited early:"; cat "$err" >&2; exit 1; }
        sleep 0.05
    done
    log "$what did not get ready:"; cat "$err" >&2; exit 1
}

# start_peer_server COMMAND... -> $server_pid: runs the server in the background with
# --ready-file $work/server.ready (stderr in $work/server.err) and waits until it listens
start_peer_server() {
    rm -f "$work/server.ready"
    "$@" --ready-file "$work/server.ready" 2>"$work/server.err" &
    server_pid=$!
    bg_pids+=("$server_pid")
    wait_for "$work/server.ready" "$server_pid" server "" "$work/server.err"
}

# stop_server: SIGINT to $server_pid; fails if the server fails
stop_server() {
    kill -INT "$server_pid"
    wait "$server_pid" || { log "server failed:"; cat "$work/server.err" >&2; exit 1; }
    forget_pid "$server_pid"
}

# start_capture TOOL IFACE LINKTYPE FILE PRECISION TAG -> $capture_pid, stderr in $work/TAG.err
#   TOOL tcpdump (pcap, PRECISION micro|nano) or dumpcap (pcapng; dumpcap 4.0 records nanoseconds)
#   LINKTYPE "" for the interface's default
start_capture() {
    local tool=$1 iface=$2 lt=$3 file=$4 prec=$5 err="$work/$6.err"
    rm -f "$file" "$err"  # (an old err file would say "listening" before the new tool does)
    if [ "$tool" = tcpdump ]; then
        # -U and --immediate-mode: every packet is handed over and written at once, so nothing is
        # left in the kernel ring when SIGINT arrives; -Z root: write as root (no privilege drop).
        # -B 65536 (KiB): in immediate mode every ring slot holds a full snaplen, and a 2 MiB
        # ring overflows on a burst of large loopback segments ("dropped by kernel").
        tcpdump -i "$iface" ${lt:+-y "$lt"} -U --immediate-mode -B 65536 -Z root -s 262144 \
            --time-stamp-precision="$prec" -w "$file" "$FILTER" 2>"$err" &
        capture_pid=$!
        bg_pids+=("$capture_pid")
        wait_for "$err" "$capture_pid" tcpdump "listening on"
    else
        dumpcap -i "$iface" ${lt:+-y "$lt"} -n -B 64 -s 262144 -f "$FILTER" -w "$file" 2>"$err" &
        capture_pid=$!
        bg_pids+=("$capture_pid")
        wait_for "$err" "$capture_pid" dumpcap "Capturing on"
    fi
    # the socket is bound and filtering once the tool says so; a moment more for good measure
    sleep 0.2
}

# stop_capture PID TAG FILE: SIGINT, wait, chmod 644 FILE, report the tool's counts; fails if the
# tool fails or reports kernel drops (a capture that lost packets is useless as a reassembly reference)
stop_capture() {
    kill -INT "$1"
    wait "$1" || { log "capture $2 failed:"; cat "$work/$2.err" >&2; exit 1; }
    forget_pid "$1"
    chmod 644 "$3"
    grep -Ei "captured|dropped" "$work/$2.err" | sed "s/^/$PROG:   $2: /" >&2 || true
    local drops
    drops=$( { grep -Eo '^[0-9]+ packets dropped by kernel' "$work/$2.err" | grep -Eo '^[0-9]+' || true;
               grep -Eo "received/dropped on interface .*: [0-9]+/[0-9]+" "$work/$2.err" | grep -Eo '[0-9]+$' || true; } |
             awk '{s+=$1} END {print s+0}')
    if [ "$drops" != 0 ]; then log "capture $2 dropped $drops packets"; exit 1; fi
}

# check_capture FILE: no segment lost in the capture (tshark's TCP analysis), when tshark is there;
# returns 1 (after saying so) if tshark sees one
check_capture() {
    command -v tshark >/dev/null || return 0
    local lost
    lost=$(tshark -r "$1" -Y 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment' -T fields \
        -e frame.number 2>/dev/null | wc -l)
    if [ "$lost" != 0 ]; then log "$1: tshark sees $lost lost/unseen segments"; return 1; fi
    return 0
}
