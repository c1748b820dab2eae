#!/usr/bin/env python3
"""Reference TCP stream figures for a capture, computed by tshark.

Usage: tshark_oracle.py CAPTURE [--port 9092] [--tshark tshark] [-o OUT.json]

For each TCP connection (tshark's tcp.stream) and direction it reports the number of payload
bytes tshark's "Follow TCP Stream" delivers in order, and their SHA-256. Output (JSON):
  {"capture": NAME, "tshark": VERSION, "lastFrame": 88, "connections": [
     {"stream": 0, "conn": 1, "client": "127.0.0.1:40112", "server": "127.0.0.1:9092",
      "handshake": true, "firstFrame": 1, "finFrame": {"c2s": 80, "s2c": 81}, "rstFrame": {"c2s": null, "s2c": null},
      "closeReason": "fin",
      "c2s": {"bytes": 2231, "sha256": "..."}, "s2c": {"bytes": 40310, "sha256": "..."}}, ...]}
firstFrame: the connection's first packet; finFrame/rstFrame: the first frame with FIN/RST from
that side; lastFrame: the last frame of the capture. closeReason: what the contract's
conn close record should say: "fin" when both sides sent FIN before any RST, else "rst" when a
RST was seen, else "end-of-capture".
Roles: the side that sent the SYN-ACK is the server; without one, the side on --port; failing
that, the lower port. Addresses: IP:PORT, IPv6 as [addr]:port (RFC 5952, as tshark prints).
`conn` is stream + 1 (imscope numbers connections in order of first packet, like tcp.stream).

All streams are followed in one tshark run (one -z follow,tcp,raw,N per stream), with
tcp.reassemble_out_of_order on. tshark's follow code queues out-of-order segments itself and
trims retransmitted/overlapping bytes, which the rough copies (roughen.py swap/dup/split) confirm:
they give the same figures as the clean capture. A stream with bytes never captured is not a
reference for the bytes after the hole; use clean captures (and compute lossy expectations from
them) for that.
"""

import argparse
import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys

FIELDS = ["frame.number", "frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset"]
PREFS = ["-o", "tcp.reassemble_out_of_order:TRUE", "-o", "tcp.desegment_tcp_streams:TRUE",
         "-o", "tcp.analyze_sequence_numbers:TRUE"]


class OracleError(RuntimeError):
    pass


def _run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise OracleError("%s failed (%d): %s" % (" ".join(cmd[:4]), p.returncode, p.stderr.strip()[-2000:]))
    return p.stdout


def _flag(v):
    return v.strip() in ("1", "True", "true")


def _endpoint(addr, port):
    a = ipaddress.ip_address(addr)
    return ("[%s]:%d" % (a.compressed, port)) if a.version == 6 else ("%s:%d" % (a, port))


def tshark_version(tshark="tshark"):
    out = _run([tshark, "--version"])
    m = re.search(r"TShark \(Wireshark\) (\S+)", out)
    return m.group(1) if m else out.splitlines()[0]


def _streams(path, tshark, port):
    """({stream: facts}, last frame number, {frame: time_epoch text}) from one fields pass."""
    out = _run([tshark, "-n", "-r", path] + PREFS + ["-T", "fields", "-E", "separator=\t",
                                                     "-E", "occurrence=f"] + sum([["-e", f] for f in FIELDS], []))
    streams, last_frame, times = {}, 0, {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0].strip():
            continue
        frame = int(cols[0])
        last_frame = max(last_frame, frame)
        times[frame] = cols[1]
        if len(cols) < len(FIELDS) or cols[2] == "":
            continue
        _, _, stream, s4, s6, sport, d4, d6, dport, syn, ack, fin, rst = cols[:13]
        src = _endpoint(s4 or s6, int(sport))
        dst = _endpoint(d4 or d6, int(dport))
        st = streams.setdefault(int(stream), {"ends": [], "server": None, "handshake": False, "first": frame,
                                              "fin": {}, "rst": {}, "ports": {}})
        for e, p in ((src, int(sport)), (dst, int(dport))):
            if e not in st["ends"]:
                st["ends"].append(e)
                st["ports"][e] = p
        if _flag(syn) and _flag(ack) and st["server"] is None:
            st["server"] = src
        if _flag(syn) and not _flag(ack):
            st["handshake"] = True
        if _flag(fin):
            st["fin"].setdefault(src, frame)
        if _flag(rst):
            st["rst"].setdefault(src, frame)
    for st in streams.values():
        if st["server"] is None:
            a, b = st["ends"][0], st["ends"][-1]
            pa, pb = st["ports"][a], st["ports"][b]
            st["server"] = a if pa == port else b if pb == port else (a if pa < pb else b)
        others = [e for e in st["ends"] if e != st["server"]]
        st["client"] = others[0] if others else st["server"]
        fin = {"c2s": st["fin"].get(st["client"]), "s2c": st["fin"].get(st["server"])}
        rst = {"c2s": st["rst"].get(st["client"]), "s2c": st["rst"].get(st["server"])}
        first_rst = min([f for f in rst.values() if f] or [None], key=lambda f: f or 0)
        if fin["c2s"] and fin["s2c"] and (first_rst is None or max(fin.values()) < first_rst):
            st["closeReason"] = "fin"
        elif first_rst is not None:
            st["closeReason"] = "rst"
        else:
            st["closeReason"] = "end-of-capture"
        st["finFrame"], st["rstFrame"] = fin, rst
    return streams, last_frame, times


def frame_facts(path, port=9092, tshark="tshark"):
    """Where things are in a capture, without following streams (valid for any copy):
    {"lastFrame", "frameTimes": {frame: "epoch text"}, "connections": {(client, server):
    {"firstFrame", "finFrame", "rstFrame", "closeReason", "handshake"}}}"""
    streams, last_frame, times = _streams(path, tshark, port)
    conns = {}
    for st in streams.values():
        conns[(st["client"], st["server"])] = {"firstFrame": st["first"], "finFrame": st["finFrame"],
                                               "rstFrame": st["rstFrame"], "closeReason": st["closeReason"],
                                               "handshake": st["handshake"]}
    return {"lastFrame": last_frame, "frameTimes": times, "connections": conns}


def _follow(path, tshark, stream_ids):
    """{stream: {"node0": endpoint, "node1": endpoint, "data0": bytes, "data1": bytes}}"""
    if not stream_ids:
        return {}
    args = sum([["-z", "follow,tcp,raw,%d" % s] for s in stream_ids], [])
    out = _run([tshark, "-n", "-r", path, "-q"] + PREFS + args)
    result, cur = {}, None
    for line in out.splitlines():
        if line.startswith("Filter: tcp.stream eq "):
            cur = {"node0": None, "node1": None, "data0": bytearray(), "data1": bytearray()}
            result[int(line.rsplit(" ", 1)[1])] = cur
        elif cur is None:
            continue
        elif line.startswith("Node 0: "):
            cur["node0"] = line[8:].strip()
        elif line.startswith("Node 1: "):
            cur["node1"] = line[8:].strip()
        elif line.startswith("====="):
            continue
        elif line.startswith("Follow:"):
            continue
        elif line.startswith("\t"):
            cur["data1"] += bytes.fromhex(line.strip())
        elif line.strip():
            cur["data0"] += bytes.fromhex(line.strip())
    missing = set(stream_ids) - set(result)
    if missing:
        raise OracleError("tshark printed no follow output for streams %s" % sorted(missing))
    return result


def _norm(endpoint):
    """tshark's follow header prints IPv6 as [addr]:port; make sure it is RFC 5952 text."""
    m = re.match(r"^\[(.*)\]:(\d+)$", endpoint) or re.match(r"^(.*):(\d+)$", endpoint)
    return _endpoint(m.group(1), int(m.group(2)))


def oracle(path, port=9092, tshark="tshark", keep_data=False):
    """The figures described at the top; with keep_data each direction also has "data" (bytes)
    and the result "frameTimes" ({frame: time_epoch text})."""
    streams, last_frame, times = _streams(path, tshark, port)
    follows = _follow(path, tshark, sorted(streams))
    conns = []
    for sid in sorted(streams):
        st, fo = streams[sid], follows[sid]
        nodes = {_norm(fo["node0"]): bytes(fo["data0"]), _norm(fo["node1"]): bytes(fo["data1"])}
        if fo["node0"] and _norm(fo["node0"]) == _norm(fo["node1"] or ""):
            raise OracleError("stream %d: both nodes are %s" % (sid, fo["node0"]))
        if set(nodes) != {st["client"], st["server"]}:
            raise OracleError("stream %d: follow nodes %s, fields say %s/%s"
                              % (sid, sorted(nodes), st["client"], st["server"]))
        c2s, s2c = nodes[st["client"]], nodes[st["server"]]
        item = {
            "stream": sid, "conn": sid + 1, "client": st["client"], "server": st["server"],
            "handshake": st["handshake"], "firstFrame": st["first"], "finFrame": st["finFrame"],
            "rstFrame": st["rstFrame"], "closeReason": st["closeReason"],
            "c2s": {"bytes": len(c2s), "sha256": hashlib.sha256(c2s).hexdigest()},
            "s2c": {"bytes": len(s2c), "sha256": hashlib.sha256(s2c).hexdigest()},
        }
        if keep_data:
            item["c2s"]["data"], item["s2c"]["data"] = c2s, s2c
        conns.append(item)
    result = {"capture": os.path.basename(path), "tshark": tshark_version(tshark), "lastFrame": last_frame,
              "connections": conns}
    if keep_data:
        result["frameTimes"] = times
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--tshark", default=os.environ.get("TSHARK", "tshark"))
    p.add_argument("-o", "--output", help="write the JSON here instead of standard output")
    a = p.parse_args()
    if not shutil.which(a.tshark):
        sys.exit("tshark_oracle: %s not found" % a.tshark)
    try:
        result = oracle(a.capture, a.port, a.tshark)
    except OracleError as e:
        sys.exit("tshark_oracle: %s" % e)
    text = json.dumps(result, indent=1) + "\n"
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
