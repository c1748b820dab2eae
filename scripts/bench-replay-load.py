#!/usr/bin/env python3
"""Replay load: `imscope replay --copies N` against the same load driven by python-socketio clients.

Exports CAPTURE to a replay script (`imscope export`), then, each against a fresh bundled IM server
(Captures/peers/im_server.py, eio4 venv, a free port on 127.0.0.1), runs as a child process:
  (a) imscope replay SCRIPT --server URL --copies N --ramp R --timeout T [--speed X] --format json -q
      (its JSON verdict's "load" object: the figures of the run);
  (b) Captures/peers/load_clients.py SCRIPT --server URL --copies N --ramp R --timeout T [--speed X]
      (N copies of every recorded client as python-socketio 5.x AsyncClients in one process; the same renaming
      of users and msgIds per copy, the same timing and causes; its one JSON object, the same shape).
Measures each child's CPU seconds (user+sys, from os.wait4's rusage) and wall seconds, and the server's CPU
seconds over the run (utime+stime in /proc/PID/stat, read before the run and before the server stops), and
prints them side by side with what each side reports: clients held at once, messages sent and received,
cross-copy messages (a client got a message naming another copy's user), msgs/s, messages per client-CPU-second,
client CPU ms per 1,000 messages, reply and delivery latency p50/p99, send lag and send error p50/p99 (lag:
behind the recorded time, causes included; error: the client's own, from when a step was due), exit status; and a ratio
row (imscope's messages per CPU second over python's). An imscope without --copies (or without the "load"
object) shows n/a. No root needed.

  .venv/eio4/bin/python scripts/bench-replay-load.py [--imscope .build/release/imscope] [--copies 500]
      [--ramp 10] [--timeout 120] [--speed 1] [--capture Captures/replay/replay-eio4-websocket.pcap] [--json]
  make bench-replay-load            (builds the release imscope first)

Note: the bundled IM server tells every online user about every user who comes online, goes offline or sends
its ready, so the traffic grows with the square of the users online at once (most of it cross-copy), and with
hundreds of copies the server (one python process) is the bottleneck: look at its CPU seconds against the wall.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "integration"))
from imserver import VENVS, ImServer  # noqa: E402

LOAD_CLIENTS = REPO / "Captures" / "peers" / "load_clients.py"
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """utime+stime of process pid in seconds (None when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5), after pid and comm


def run_child(cmd, work, name):
    """Run cmd to its end; (exit status, stdout, stderr, (user, sys) cpu seconds, wall seconds)."""
    out_path, err_path = Path(work) / (name + ".out"), Path(work) / (name + ".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        began = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return (proc.returncode, out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
            (usage.ru_utime, usage.ru_stime), wall)


SERVER_OPTIONS = {}


def imscope_load(verdict):
    """The verdict's load figures, with the clients that could not run counted as errors (as the driver's)."""
    load = verdict["load"]
    if load is not None:
        load = dict(load, errorCount=sum(1 for c in verdict.get("clients") or [] if c.get("error")))
    return load


def measure(name, cmd, pick, work):
    """One side against a fresh server: the child's figures, its `pick`ed load object, the server's CPU."""
    with ImServer("eio4", **SERVER_OPTIONS) as server:
        cmd = [c.replace("{URL}", server.url) for c in cmd]
        cpu0 = proc_cpu(server.proc.pid)
        status, out, err, (user, system), wall = run_child(cmd, work, name)
        cpu = user + system
        cpu1 = proc_cpu(server.proc.pid)
    load, note = None, None
    try:
        load = pick(json.loads(out.strip().splitlines()[-1])) if out.strip() else None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        load = None
    if load is None:
        last = [line for line in err.strip().splitlines() if line.strip()]
        note = last[-1][:200] if last else "no load figures on stdout"
    return {"name": name, "cmd": cmd, "status": status, "cpu": cpu, "user": user, "sys": system, "wall": wall,
            "serverCpu": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None,
            "load": load, "note": note, "stdout": out if load is None else None}


def get(load, *path):
    v = load
    for p in path:
        if not isinstance(v, dict) or v.get(p) is None:
            return None
        v = v[p]
    return v


def counts(load):
    """(sent, received) as imscope's load summary counts them: every Socket.IO/Engine.IO packet of the clients'
    steps (CONNECTs, events, DISCONNECTs, closes), every server message (CONNECT answers, events, acks).
    load_clients.py has these under "packets" (its own sent/received are events, events + acks)."""
    if load is None:
        return None, None
    if isinstance(load.get("packets"), dict):
        return load["packets"].get("sent"), load["packets"].get("received")
    return load.get("sent"), load.get("received")


def derived(side):
    load = side["load"]
    if load is None:
        return {}
    sent, received = counts(load)
    msgs = (sent or 0) + (received or 0)
    cpu = side["cpu"]
    return {"sent": sent, "received": received, "msgs": msgs, "msgsPerCpu": msgs / cpu if cpu else None,
            "cpuMsPer1000": cpu * 1000 * 1000 / msgs if msgs else None,
            "msgsPerSecond": msgs / load["seconds"] if load.get("seconds") else None}


def fmt(v, spec="%.1f"):
    if v is None:
        return "n/a"
    if isinstance(v, int) and not isinstance(v, bool):
        return "{:,}".format(v)
    return spec % v


def table(sides):
    rows = [
        ("clients held at once", lambda s, d: fmt(get(s["load"], "connected"))),
        ("clients (copies x recorded)", lambda s, d: fmt(get(s["load"], "clients"))),
        ("clients that connected", lambda s, d: fmt(get(s["load"], "connects"))),
        ("messages sent (all packets)", lambda s, d: fmt(d.get("sent"))),
        ("messages received (+connects)", lambda s, d: fmt(d.get("received"))),
        ("  of which cross-copy", lambda s, d: fmt(get(s["load"], "crossCopy"))),
        ("msgs/s (sent+received)", lambda s, d: fmt(d.get("msgsPerSecond"))),
        ("client CPU s (user+sys)", lambda s, d: fmt(s["cpu"], "%.2f")),
        ("  user / sys (the kernel's part)", lambda s, d: "%.2f / %.2f" % (s["user"], s["sys"])),
        ("msgs per client-CPU-second", lambda s, d: fmt(d.get("msgsPerCpu"), "%.0f")),
        ("client CPU ms per 1,000 msgs", lambda s, d: fmt(d.get("cpuMsPer1000"), "%.1f")),
        ("reply latency p50 / p99 ms", lambda s, d: "%s / %s" % (
            fmt(get(s["load"], "latency", "reply", "p50"), "%.2f"),
            fmt(get(s["load"], "latency", "reply", "p99"), "%.2f"))),
        ("delivery latency p50 / p99 ms", lambda s, d: "%s / %s" % (
            fmt(get(s["load"], "latency", "delivery", "p50"), "%.2f"),
            fmt(get(s["load"], "latency", "delivery", "p99"), "%.2f"))),
        ("send lag p50 / p99 ms", lambda s, d: "%s / %s" % (fmt(get(s["load"], "sendLag", "p50"), "%.2f"),
                                                           fmt(get(s["load"], "sendLag", "p99"), "%.2f"))),
        ("send error p50 / p99 ms", lambda s, d: "%s / %s" % (fmt(get(s["load"], "sendError", "p50"), "%.2f"),
                                                             fmt(get(s["load"], "sendError", "p99"), "%.2f"))),
        ("errors", lambda s, d: fmt(get(s["load"], "errorCount") if get(s["load"], "errorCount") is not None
                                    else (len(s["load"]["errors"]) if s["load"] and s["load"].get("errors") is not None
                                          else None))),
        ("server CPU s (during the run)", lambda s, d: fmt(s["serverCpu"], "%.2f")),
        ("wall s (child process)", lambda s, d: fmt(s["wall"], "%.2f")),
        ("exit status", lambda s, d: str(s["status"])),
    ]
    ds = [derived(s) for s in sides]
    w0 = max(len(r[0]) for r in rows) + 2
    cells = [[r[1](s, d) for s, d in zip(sides, ds)] for r in rows]
    widths = [max(len(sides[i]["label"]), *(len(c[i]) for c in cells)) + 2 for i in range(len(sides))]
    lines = ["%-*s" % (w0, "") + "".join("%*s" % (w, s["label"]) for w, s in zip(widths, sides))]
    for r, c in zip(rows, cells):
        lines.append("%-*s" % (w0, r[0]) + "".join("%*s" % (w, x) for w, x in zip(widths, c)))
    a, b = ds[0].get("msgsPerCpu"), ds[1].get("msgsPerCpu")
    ratio = "%.2fx" % (a / b) if a and b else "n/a"
    lines.append("ratio: imscope msgs per CPU s / python's: " + ratio)
    lines.append("(messages as imscope counts them: sent = every packet of the steps, CONNECTs, events, DISCONNECTs"
                 " and closes; received = CONNECT answers, events and acks)")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imscope", default=str(REPO / ".build/release/imscope"))
    p.add_argument("--export-with", metavar="PATH", help="the imscope that exports the script (default --imscope)")
    p.add_argument("--python", default=VENVS.get("eio4"), help="the python of load_clients.py (default the eio4 venv)")
    p.add_argument("--copies", type=int, default=500)
    p.add_argument("--ramp", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--speed", type=float, default=None)
    p.add_argument("--capture", default=str(REPO / "Captures/replay/replay-eio4-websocket.pcap"),
                   help="a capture (exported first) or a replay script (.json, used as it is)")
    p.add_argument("--json", action="store_true", help="also print both raw results")
    p.add_argument("--server-ping-timeout", type=float, default=120.0,
                   help="the server's Engine.IO ping timeout (s): at the peak of a load run its event loop is a "
                        "minute behind, and python-engineio drops a client whose pong it reads late")
    p.add_argument("--no-uvloop", action="store_true", help="run the server on asyncio's own loop")
    args = p.parse_args()
    SERVER_OPTIONS.update(ping_timeout=args.server_ping_timeout, extra=() if args.no_uvloop else ("--uvloop",))
    if not args.python:
        sys.exit("bench-replay-load: the eio4 virtualenv is missing (scripts/setup.sh test creates it); --python PATH")
    if not Path(args.imscope).exists():
        sys.exit("bench-replay-load: %s does not exist (make release, or --imscope PATH)" % args.imscope)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as work:
        if args.capture.endswith(".json"):
            script = args.capture
        else:
            script = str(Path(work) / "session.json")
            exporter = args.export_with or args.imscope
            e = subprocess.run([exporter, "export", args.capture, "-o", script], capture_output=True, text=True)
            if e.returncode != 0:
                sys.exit("bench-replay-load: %s export exited %d: %s (--export-with PATH: an imscope that exports)"
                         % (exporter, e.returncode, e.stderr.strip()))
        common = ["--copies", str(args.copies), "--ramp", str(args.ramp), "--timeout", str(args.timeout)]
        if args.speed is not None:
            common += ["--speed", str(args.speed)]
        imscope = measure("imscope", [args.imscope, "replay", script, "--server", "{URL}"] + common
                          + ["--format", "json", "-q"], imscope_load, work)
        python = measure("python", [args.python, str(LOAD_CLIENTS), script, "--server", "{URL}"] + common,
                         lambda v: v, work)
    imscope["label"] = "imscope"
    python["label"] = (python["load"] or {}).get("tool") or "python-socketio"
    clients = get(python["load"], "clients") or get(imscope["load"], "clients")
    print("replay load: %s, %d copies%s, ramp %gs, timeout %gs%s" % (
        Path(args.capture).name, args.copies, " (%d clients)" % clients if clients else "", args.ramp, args.timeout,
        ", speed %g" % args.speed if args.speed is not None else ""))
    print(table([imscope, python]))
    for side in (imscope, python):
        if side["note"]:
            print("%s: n/a: %s (exit %s)" % (side["label"], side["note"], side["status"]))
        errors = get(side["load"], "errors")
        if errors:
            print("%s: first errors: %s" % (side["label"], "; ".join(errors[:3])))
    if imscope["status"] == 1:
        print("imscope: exit 1: what the copies received differed from the recording (with overlapping copies the"
              " IM server's presence notices about other copies' users always do)")
    if args.json:
        print(json.dumps({"imscope": imscope, "python": python}, indent=2))


if __name__ == "__main__":
    main()
