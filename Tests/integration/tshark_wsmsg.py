#!/usr/bin/env python3
"""Every WebSocket message tshark finds in a capture, with its payload bytes: the oracle for
captures of other projects (any port, any opcode).

Usage: tshark_wsmsg.py CAPTURE [--ws-port N]... [--tshark tshark] [--full]
Prints JSON: per connection and direction (sender -> receiver) the messages tshark decoded.

tshark_ws.py is the reference for our Socket.IO captures (text messages, port 9092); this one
takes every opcode and every port:
  - HTTP: tshark's HTTP dissector on every TCP port that received a request starting "GET " (found
    by a first tshark pass over the whole capture, tunnels such as GTP-U included), so its
    WebSocket dissector takes over after each 101 response. -o tcp.reassemble_out_of_order:TRUE,
    tcp.desegment_tcp_streams:TRUE, websocket.decompress:TRUE.
  - --ws-port N: connections on port N that sent no GET (the capture starts inside them) are
    decoded by a second pass with -d tcp.port==N,websocket; only those connections are taken
    from it. tshark then knows nothing of permessage-deflate: a frame with RSV1 there is reported
    compressed with an unknown payload.
  - the messages come from -T json -x, read with their keys in order (a packet can hold several
    websocket layers): each websocket layer is one frame (opcode, FIN, RSV1, the unmasked payload of
    the frame); a message ends at its FIN frame; its payload is the raw bytes of the layer tshark
    hands the payload to next (data or data-text-lines: the reassembled and inflated message), else
    the reassembled fragments (websocket.fragments), else the frame's own payload.
  - compressed messages: tshark 4.0 inflates single-frame messages; it does not inflate fragmented
    ones and shows an empty inflated message uninflated. Where the payload tshark shows is the
    compressed one (it equals the wire bytes), or it said websocket.decompression.failed, the
    payload is None: unknown.

messages(path, ws_ports=(), tshark="tshark") -> [{"frame", "stream", "src", "dst" (IP:PORT,
    IPv6 as [addr]:port), "opcode" ("text", "binary", "close", "ping", "pong" or the number),
    "payload" (bytes, or None when unknown), "compressed", "fragments"}] in capture order.
"""

import argparse
import base64
import ipaddress
import json
import os
import shutil
import subprocess
import sys

PREFS = ["-o", "tcp.reassemble_out_of_order:TRUE", "-o", "tcp.desegment_tcp_streams:TRUE",
         "-o", "websocket.decompress:TRUE"]
OPCODES = {1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
PAYLOAD_LAYERS = ("data", "data-text-lines")


class TsharkWsMsgError(RuntimeError):
    pass


def _run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise TsharkWsMsgError("%s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                     p.stderr.decode(errors="replace").strip()[-2000:]))
    return p.stdout


def requests(path, tshark="tshark"):
    """(ports, streams): the TCP ports that received a request starting with "GET ", and the tcp.stream of those
    requests (a tunnelled packet lists its inner TCP header last)."""
    out = _run([tshark, "-n", "-r", str(path), "-Y", 'tcp.len > 0 && tcp.payload[0:4] == "GET "',
                "-T", "fields", "-E", "occurrence=l", "-e", "tcp.dstport", "-e", "tcp.stream"]).decode()
    ports, streams = set(), set()
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) == 2 and cols[0].strip().isdigit() and cols[1].strip().isdigit():
            ports.add(int(cols[0]))
            streams.add(int(cols[1]))
    return sorted(ports), streams


def _endpoint(addr, port):
    a = ipaddress.ip_address(addr)
    return ("[%s]:%d" % (a.compressed, port)) if a.version == 6 else ("%s:%d" % (a, port))


def _get(pairs, key, default=None):
    for k, v in pairs:
        if k == key:
            return v
    return default


def _raw(value):
    """Bytes of a -x "_raw" value [hex, pos, len, bitmask, type] (or a list of them: the first)."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        value = value[0]
    return bytes.fromhex(value[0]) if value else b""


def _has(pairs, name):
    """Does a (nested) list of key/value pairs hold the key `name` anywhere?"""
    for k, v in pairs:
        if k == name:
            return True
        nested = isinstance(v, list) and v and isinstance(v[0], (list, tuple)) and len(v[0]) == 2
        if nested and isinstance(v[0][0], str) and _has(v, name):
            return True
    return False


def _packets(path, tshark, decode_as):
    cmd = [tshark, "-n", "-r", str(path)] + PREFS
    for port, proto in decode_as:
        cmd += ["-d", "tcp.port==%d,%s" % (port, proto)]
    cmd += ["-Y", "websocket", "-T", "json", "-x"]
    out = _run(cmd)
    if not out.strip():
        return []
    return json.loads(out, object_pairs_hook=lambda pairs: pairs)


def _walk(packets):
    """Messages of the packets (tshark JSON with ordered pairs)."""
    out = []
    started = {}  # (stream, src) -> (opcode, compressed, first frame payloads) of a fragmented message
    for pkt in packets:
        layers = _get(_get(pkt, "_source"), "layers")
        frame = int(_get(_get(layers, "frame"), "frame.number"))
        # the innermost IP and TCP headers (a tunnel puts its own first; -T json keeps them all)
        ips = [v for k, v in layers if k in ("ip", "ipv6")]
        tcps = [v for k, v in layers if k == "tcp"]
        if not ips or not tcps:
            continue
        ip, tcp = ips[-1], tcps[-1]
        v6 = _get(ip, "ipv6.src") is not None
        src = _endpoint(_get(ip, "ipv6.src" if v6 else "ip.src"), int(_get(tcp, "tcp.srcport")))
        dst = _endpoint(_get(ip, "ipv6.dst" if v6 else "ip.dst"), int(_get(tcp, "tcp.dstport")))
        stream = int(_get(tcp, "tcp.stream"))
        # split the layers after tcp into frames: [websocket layer, [(key, value) that follow it]]
        frames = []
        for k, v in layers:
            if k == "websocket":
                frames.append((v, []))
            elif frames:
                frames[-1][1].append((k, v))
        for ws, after in frames:
            opcode = int(_get(ws, "websocket.opcode"))
            fin = _get(ws, "websocket.fin") in ("1", "True")
            rsv1 = int(_get(ws, "websocket.rsv"), 16) & 0x4 != 0
            wire = _raw(_get(ws, "websocket.payload_raw")) if _get(ws, "websocket.payload_raw") else b""
            key = (stream, src)
            if opcode in (1, 2) and not fin:
                started[key] = (opcode, rsv1, 1)
                continue
            if opcode == 0:
                if key not in started:
                    continue  # a continuation tshark could not place
                first, compressed, n = started[key]
                if not fin:
                    started[key] = (first, compressed, n + 1)
                    continue
                del started[key]
                fragments = n + 1
            else:
                first, compressed, fragments = opcode, rsv1, 1
            rec = {"frame": frame, "stream": stream, "src": src, "dst": dst,
                   "opcode": OPCODES.get(first, first), "compressed": compressed, "fragments": fragments}
            if first >= 8:
                rec["payload"] = wire
            else:
                shown = None
                for k, v in after:
                    if k[:-4] in PAYLOAD_LAYERS and k.endswith("_raw"):
                        shown = _raw(v)
                        break
                if shown is None:
                    reassembled = _get(after, "websocket.fragments_raw")
                    shown = _raw(reassembled) if reassembled is not None else wire
                if compressed:
                    expert = "websocket.decompression.failed.expert"
                    failed = _has(ws, expert) or _has(after, expert)
                    not_inflated = fragments > 1 or shown == wire or _get(ws, "websocket.pmc") != "1"
                    rec["payload"] = None if failed or not_inflated else shown
                else:
                    rec["payload"] = shown
            out.append(rec)
    return out


def messages(path, ws_ports=(), tshark="tshark"):
    ports, with_request = requests(path, tshark)
    out = _walk(_packets(path, tshark, [(p, "http") for p in ports]))
    if ws_ports:
        with_request |= {m["stream"] for m in out}
        more = [m for m in _walk(_packets(path, tshark, [(p, "websocket") for p in ws_ports]))
                if m["stream"] not in with_request]
        for m in more:
            m["decodeAs"] = "websocket"
        out = sorted(out + more, key=lambda m: m["frame"])
    return out


def lanes(msgs):
    """{(src, dst): [message, ...]} in capture order."""
    out = {}
    for m in msgs:
        out.setdefault((m["src"], m["dst"]), []).append(m)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture")
    p.add_argument("--ws-port", type=int, action="append", default=[])
    p.add_argument("--tshark", default=os.environ.get("TSHARK", "tshark"))
    p.add_argument("--full", action="store_true", help="whole payloads (else cut to 100 bytes)")
    a = p.parse_args()
    if not shutil.which(a.tshark):
        sys.exit("tshark_wsmsg: %s not found" % a.tshark)
    try:
        msgs = messages(a.capture, a.ws_port, a.tshark)
    except TsharkWsMsgError as e:
        sys.exit("tshark_wsmsg: %s" % e)
    out = {}
    for (src, dst), ms in lanes(msgs).items():
        items = []
        for m in ms:
            item = {k: v for k, v in m.items() if k not in ("src", "dst", "payload")}
            data = m["payload"]
            if data is None:
                item["payload"] = None
            else:
                item["length"] = len(data)
                cut = data if a.full else data[:100]
                try:
                    item["text"] = cut.decode("utf-8")
                except UnicodeDecodeError:
                    item["base64"] = base64.b64encode(cut).decode()
            items.append(item)
        out["%s -> %s" % (src, dst)] = items
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
