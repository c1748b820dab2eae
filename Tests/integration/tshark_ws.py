#!/usr/bin/env python3
"""WebSocket messages of a capture as tshark decodes them: the reference for imscope --layer ws.

Usage: tshark_ws.py CAPTURE [--port 9092] [--decode-as http|websocket] [--tshark tshark] [--full]
Prints JSON: per connection and direction the number of text messages, and the messages (texts
cut to 100 characters unless --full).

tshark runs once, with -o tcp.reassemble_out_of_order:TRUE and -d tcp.port==PORT,http (port 9092
is Kafka's in Wireshark), -T pdml. Its HTTP dissector hands a connection to the WebSocket
dissector after the 101 response; that dissector reassembles frames across TCP segments, joins
fragments, and inflates permessage-deflate messages (per direction, with context takeover as the
handshake negotiated). Where things are in tshark 4.0's PDML:
  - a text message is the websocket.payload.text field; for a fragmented message it appears once,
    in the frame that completes it, over the reassembled (and inflated) payload; its `value`
    attribute is the hex of the message's bytes (the `show` text is escaped and cut at 240
    characters, so it is not used). It sits in the <proto name="websocket"> of the final frame.
  - a compressed message that could not be inflated has no text field but the expert
    websocket.decompression.failed.expert (in the next fake-field-wrapper proto); reported here
    with "decompressionFailed": true.
  - close frames: websocket.payload.close.status_code / .reason; ping/pong: websocket.payload.ping/pong.
Known limits of tshark 4.0: a compressed message that inflates to nothing (an empty text; aiohttp
sends the single byte 00) is shown *uninflated*, its compressed payload as the text; such a record
is corrected here to the empty text it is, and marked "tsharkShowedCompressed": true (the check:
the text has the frame's payload length and inflates, as raw DEFLATE, to nothing).
(see ws_craft.py fragments): a *compressed fragmented* message is not
inflated (its reassembled DEFLATE bytes are shown as text: "utf8": false here) and the inflater of
that direction is then out of step, so later compressed messages of the direction fail. A
connection whose handshake is not in the capture is not WebSocket to tshark at all (with
--decode-as websocket it is, but the dissector cannot find frame boundaries when the capture
starts inside a frame).

Direction: frames from the server port (--port) are s2c. Connections: tshark's tcp.stream + 1,
the numbering imscope uses (order of first packet).

messages(path) -> [{"frame", "conn", "dir", "opcode", "text" (str, or None when not valid UTF-8),
                    "raw" (bytes, text messages), "utf8", "fragments", "compressed",
                    "decompressionFailed", "closeCode", "closeReason", "payload" (ping/pong bytes)}]
text_multiset(msgs) -> Counter of (conn, dir, text) over the text messages tshark decoded.
"""

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

PREFS = ["-o", "tcp.reassemble_out_of_order:TRUE", "-o", "tcp.desegment_tcp_streams:TRUE",
         "-o", "websocket.decompress:TRUE"]
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


class TsharkWsError(RuntimeError):
    pass


def _field(elem, name):
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f
    return None


def _hex(f):
    v = f.get("value") or ""
    data = bytes.fromhex(v)
    size = int(f.get("size") or 0)
    if len(data) != size:
        raise TsharkWsError("field %s: value holds %d bytes, size says %d" % (f.get("name"), len(data), size))
    return data


def _inflates_to_nothing(data):
    try:
        z = zlib.decompressobj(-15)
        return z.decompress(data + b"\x00\x00\xff\xff") == b"" and not z.unconsumed_tail
    except zlib.error:
        return False


def messages(path, port=9092, tshark="tshark", decode_as="http"):
    cmd = [tshark, "-n", "-r", str(path)] + PREFS + ["-d", "tcp.port==%d,%s" % (port, decode_as),
                                                   "-Y", "websocket", "-T", "pdml"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = []
    started = {}  # (conn, dir) -> opcode of the fragmented message in progress
    try:
        for event, pkt in ET.iterparse(proc.stdout, events=("end",)):
            if pkt.tag != "packet":
                continue
            frame = conn = direction = None
            last = None  # the message record of the preceding websocket proto (for experts)
            for proto in pkt:
                name = proto.get("name")
                if name == "geninfo":
                    frame = int(_field(proto, "num").get("show"))
                elif name == "tcp":
                    conn = int(_field(proto, "tcp.stream").get("show")) + 1
                    direction = "s2c" if int(_field(proto, "tcp.srcport").get("show")) == port else "c2s"
                elif name == "websocket":
                    last = None
                    opcode = int(_field(proto, "websocket.opcode").get("show"))
                    wire = _field(proto, "websocket.payload")
                    wire = int(wire.get("size")) if wire is not None else None
                    fin = _field(proto, "websocket.fin").get("show") in ("1", "True")
                    pmc = _field(proto, "websocket.pmc")  # only there when permessage-deflate was negotiated
                    pmc = pmc is not None and pmc.get("show") in ("1", "True")
                    key = (conn, direction)
                    if opcode in (1, 2) and not fin:
                        started[key] = (opcode, pmc)
                    if not fin:
                        continue
                    single = opcode != 0
                    if opcode == 0:
                        first = started.pop(key, None)
                        if first is None:
                            continue  # a continuation tshark could not place; nothing to report
                        opcode, pmc = first
                    rec = {"frame": frame, "conn": conn, "dir": direction, "opcode": OPCODES.get(opcode, str(opcode)),
                           "compressed": pmc, "fragments": 1}
                    text = _field(proto, "websocket.payload.text")
                    if text is not None:
                        raw = _hex(text)
                        if pmc and single and len(raw) == wire and _inflates_to_nothing(raw):
                            raw = b""
                            rec["tsharkShowedCompressed"] = True
                        rec["raw"] = raw
                        try:
                            rec["text"], rec["utf8"] = raw.decode("utf-8"), True
                        except UnicodeDecodeError:
                            rec["text"], rec["utf8"] = None, False
                        rec["opcode"] = "text"
                    close = _field(proto, "websocket.payload.close.status_code")
                    if close is not None:
                        rec["closeCode"] = int(close.get("show"))
                        reason = _field(proto, "websocket.payload.close.reason")
                        rec["closeReason"] = _hex(reason).decode("utf-8", "replace") if reason is not None else ""
                    for ctl in ("ping", "pong"):
                        f = _field(proto, "websocket.payload." + ctl)
                        if f is not None:
                            rec["payload"] = _hex(f)
                    out.append(rec)
                    last = rec
                elif last is not None:  # fake-field-wrapper after a websocket proto
                    if _field(proto, "websocket.decompression.failed.expert") is not None:
                        last["decompressionFailed"] = True
                    count = _field(proto, "websocket.fragment.count")
                    if count is not None:
                        last["fragments"] = int(count.get("show"))
            pkt.clear()
    except ET.ParseError as e:
        proc.kill()
        raise TsharkWsError("tshark PDML for %s: %s (stderr: %s)" % (path, e, proc.stderr.read().decode()[-2000:]))
    err = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise TsharkWsError("%s failed (%d): %s" % (" ".join(cmd[:4]), proc.returncode, err.strip()[-2000:]))
    return out


def text_multiset(msgs):
    """Counter((conn, dir, text)) of the text messages tshark decoded as valid UTF-8."""
    return collections.Counter((m["conn"], m["dir"], m["text"]) for m in msgs
                               if m["opcode"] == "text" and m.get("text") is not None)


def summary(msgs, full=False):
    counts = collections.Counter()
    items = []
    for m in msgs:
        counts["%d %s %s" % (m["conn"], m["dir"], m["opcode"])] += 1
        item = {k: v for k, v in m.items() if k not in ("raw", "payload")}
        if item.get("text") is not None and not full and len(item["text"]) > 100:
            item["text"] = item["text"][:100] + "..."
        if "payload" in m:
            item["payload"] = m["payload"].decode("latin-1")
        if "raw" in m:
            item["length"] = len(m["raw"])
        items.append(item)
    return {"counts": dict(sorted(counts.items())), "messages": items}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("capture")
    p.add_argument("--port", type=int, default=9092)
    p.add_argument("--decode-as", default="http", choices=["http", "websocket"])
    p.add_argument("--tshark", default=os.environ.get("TSHARK", "tshark"))
    p.add_argument("--full", action="store_true", help="whole texts")
    a = p.parse_args()
    if not shutil.which(a.tshark):
        sys.exit("tshark_ws: %s not found" % a.tshark)
    try:
        msgs = messages(a.capture, a.port, a.tshark, a.decode_as)
    except TsharkWsError as e:
        sys.exit("tshark_ws: %s" % e)
    json.dump(summary(msgs, a.full), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
