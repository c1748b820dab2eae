#!/usr/bin/env python3
"""Replay timing fidelity: how close a replay's sends come to the recorded ones.

Starts the bundled IM server (Captures/peers/im_server.py) on a free port, records the replay with tcpdump on lo,
replays CAPTURE against it RUNS times, and compares, per user, the k-th Socket.IO packet each client sent with the
k-th of the recording: offsets from the first handshake of the run. Prints the offset errors (median, p90, max)
and the durations side by side with the recording's (python-socketio clients). Needs root (tcpdump).

  scripts/bench-replay.py [--imscope .build/release/imscope] [--runs 5] [--speed 1] [--venv eio3|eio4]
                          [--namespace /im] [CAPTURE]   (default Captures/replay/replay-eio4-websocket.pcap)
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "integration"))
from imserver import ImServer  # noqa: E402


def sends(imscope, pcap, port):
    """{user: [offset seconds of each c2s Socket.IO packet]}, offsets from the first HTTP request, and the span."""
    out = subprocess.run([imscope, "read", str(pcap), "--port", str(port), "--format", "jsonl"],
                         capture_output=True, text=True, check=True).stdout
    origin, last, by_sid, user_of = None, None, {}, {}
    for line in out.splitlines():
        r = json.loads(line)
        ts = r.get("ts")
        if r.get("kind") == "http" and r.get("dir") == "c2s" and origin is None:
            origin = ts
        if r.get("kind") != "sio" or r.get("dir") != "c2s":
            continue
        by_sid.setdefault(r["sid"], []).append(ts)
        last = ts
        im = r.get("im") or {}
        if im.get("fromId") and r["sid"] not in user_of:
            user_of[r["sid"]] = im["fromId"]
    return {user_of.get(s, s): [t - origin for t in ts] for s, ts in by_sid.items()}, last - origin


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("capture", nargs="?", default=str(REPO / "Captures/replay/replay-eio4-websocket.pcap"))
    p.add_argument("--imscope", default=str(REPO / ".build/release/imscope"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--venv", help="eio4 or eio3 (default: eio3 when the capture's name says so)")
    p.add_argument("--namespace", help="the server's namespace (default: /im for the namespace capture)")
    args = p.parse_args()
    name = Path(args.capture).name
    venv = args.venv or ("eio3" if "eio3" in name else "eio4")
    namespace = args.namespace or ("/im" if "namespace" in name else None)
    recorded, recorded_span = sends(args.imscope, args.capture, 9092)
    errors, spans, walls = [], [], []
    with ImServer(venv, namespace=namespace) as server, tempfile.TemporaryDirectory() as work:
        for run in range(args.runs):
            pcap = Path(work) / ("run%d.pcap" % run)
            dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-w", str(pcap), "tcp port %d" % server.port],
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            began = time.monotonic()
            rc = subprocess.run([args.imscope, "replay", args.capture, "--server", server.url, "-q",
                                 "--speed", str(args.speed)]).returncode
            walls.append(time.monotonic() - began)
            time.sleep(0.3)
            dump.terminate()
            dump.wait()
            if rc != 0:
                sys.exit("bench-replay: replay exited %d" % rc)
            replayed, span = sends(args.imscope, pcap, server.port)
            if os.environ.get("BENCH_DEBUG"):
                print({k: [round(x, 3) for x in v] for k, v in replayed.items()}, file=sys.stderr)
            spans.append(span)
            for user, offsets in recorded.items():
                for want, got in zip([o / args.speed for o in offsets], replayed.get(user, [])):
                    errors.append(abs(got - want) * 1000)
    n = sum(len(v) for v in recorded.values())
    print("capture %s: %d clients, %d sends, last send at %.3f s" % (Path(args.capture).name, len(recorded), n,
                                                                    recorded_span))
    print("%-36s %10s %10s" % ("", "recorded", "replayed"))
    print("%-36s %10.3f %10.3f" % ("last send (s, median of %d runs)" % args.runs, recorded_span / args.speed,
                                   statistics.median(spans)))
    print("%-36s %10s %10.3f" % ("wall time of imscope replay (s)", "", statistics.median(walls)))
    print("send offset error (ms): median %.2f, p90 %.2f, max %.2f over %d sends"
          % (statistics.median(errors), pct(errors, 0.9), max(errors), len(errors)))


if __name__ == "__main__":
    main()
