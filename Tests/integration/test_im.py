"""Issue 5 acceptance: the ImMessage layer (`im` objects and their im.* warnings), `imscope types`,
`--filter`, `--strict` and the text timeline.

Run: IMSCOPE=$PWD/.build/debug/imscope .venv/eio4/bin/pytest -q Tests/integration/test_im.py

The rules capture, Captures/im/im-rules-lo.pcap (Captures/make-im-captures.sh; peers
Captures/peers/rules_client.py and rules_server.py, the cases in rules_script.py), was made by real
python-socketio 5.x peers over websocket. Its peer logs (im-rules-lo.client.jsonl, .server.jsonl) carry,
on each `emit` of a scripted ImMessage, the rules it is meant to break: `expectBySchema` {"v2": [...],
"v1": [...]} ([] = well-formed for that schema, null = not asserted for that schema, `why` says why),
`schema` (the schema the case is meant for: "v1" for the v1-specific cases) with `expect` = that
schema's list, `allow` (codes the rules leave open on top of the expected ones), and `label`.

 1. rules (test_rule, one test per schema and message: --schema v2 and --schema v1): every scripted
    message is in imscope's output
    (matched by direction, event and msgId: the msgId of args[0], parsed when args[0] is a JSON string;
    by the whole arguments for the cases without a string msgId); each code the log expects for that
    schema is among its `im.warnings`, a well-formed one has no warning at all, and no code comes that
    is neither expected nor allowed. Its im object's msgId is the message's. Under v1 a `chatroom`
    event has no `im` object (v1's table names only `chat`).
    Expectations that depend on the schema (everything else is the same under both):
      - messageType only in v2 (39, 40, 41, 43, 45, 68, 70, 100 on `chat`): v2 [] or v2's content rule
        (39 amt a string, 40 counts missing, 43/45 content 2 or "yes": im.bad_content); v1
        im.schema_mismatch and no content rule;
      - 34 with an emoji-cloud content: v2 [] (emoji cloud), v1 im.schema_mismatch (v1 34 is @);
        33 with an emoji-cloud content: v1 [] (emoji cloud), v2 im.schema_mismatch (v2 33 is read);
        34 emoji cloud with aiteId not an array: v2 im.bad_content, v1 [] (an @ with an object content
        that fits neither table);
      - fromType 5: v2 [], v1 im.bad_from_type (70 from an official account: v1 both codes);
      - 17 red packet with redPacketId a string: v2 im.bad_content, v1 [] (v1's 17 has no structure);
        17 with a well-formed red packet: [] under both (17 is red-packet in both tables);
      - `chatroom` events: v2 as any ImMessage, v1 no im object.
    Not asserted (null; the rules leave them open): a `chat` without arguments (only that it gets an im
    object), 43 with content 1 as a JSON number.
    imscope bugs found are strict xfails (KNOWN_BUGS below; a fix turns them into failures until the
    entry goes).
 1b. JSONL framing: every record of every capture's output is exactly one line (test_jsonl_one_record_
    per_line; the other tests read the output as a stream of JSON values so one framing bug does not
    hide the rest).
 2. every committed capture under Captures/ (recursively, *.pcap / *.pcapng): each sio EVENT `chat` or
    `chatroom` record (but the KNOWN_BUGS ones of the rules capture, failing in test_rule) has an `im` whose messageType is args[0].messageType (args[0] parsed when it is
    a JSON string; a numeric string read as its number); the peers' messages in the captures other
    than the rules capture are all well-formed (Captures/README.md), so they have no warnings, and the
    rules capture's well-formed ones (log: v2 []) have none.
 3. well-formed rules messages: the im fields are the message's, typeName/description/direction come
    from the table's row, fromTypeName from its @fromType line, a structured content is decoded (also
    from a JSON string).
 4. `imscope types --schema v1|v2 --format jsonl` equals the TSV files' rows (v1: 37 rows 1-37; v2: 31
    heartbeat, 168 last).
 5. filters: each filtered output (jsonl: exactly the lines of the unfiltered output whose records
    satisfy the predicate, computed here; json: the same records; text: as many lines as those records
    with --all, without the folded ones otherwise); bad filters exit 64 with a message on stderr and
    nothing on stdout. The cases run on the rules capture and on eio4-polling-upgrade-any.pcapng
    (4 connections, 2 sessions, polling); --schema v1 for type names of v1.
 6. --strict: 3 on the rules capture, 0 on clean captures (checked first to have no warning), 3 on a capture
    whose only warning is data frames after a WebSocket close.
 7. text: each rule-breaking message's line shows its codes (the --all text lines are the jsonl
    records, one for one); no escape codes when piped or with NO_COLOR=1 on a terminal (and colour on a
    terminal without it); --all shows more lines than the default (the pings and pongs).
"""

import gzip
import json
import os
import pty
import re
import select
import struct
import subprocess
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import CAPTURES, REPO, assert_logs_agree, imscope_path

IM_DIR = CAPTURES / "im"
RULES = IM_DIR / "im-rules-lo.pcap"
SCHEMAS = ("v2", "v1")
EVENTS = {"v2": ("chat", "chatroom"), "v1": ("chat",)}
CODES = ("im.required_missing", "im.wrong_type", "im.unknown_type", "im.wrong_direction", "im.bad_from_type",
         "im.bad_content", "im.schema_mismatch")
TSV = {s: REPO / "Sources" / "IMProtocol" / "Resources" / ("messagetypes-%s.tsv" % s) for s in SCHEMAS}
ALL_CAPTURES = sorted(p for p in CAPTURES.rglob("*") if p.suffix in (".pcap", ".pcapng") and p.is_file())
CLEAN = ["eio3-polling-upgrade-sll.pcap", "eio4-polling-upgrade-any.pcapng", "eio4-websocket-lo.pcap"]
# The python-socketio 5 client sends its Socket.IO DISCONNECT and Engine.IO close packets after its WebSocket
# close frame (RFC 6455 section 5.5.1 forbids data frames after a close): one ws.frame_after_close (info, so
# --strict stays 0) per such connection.
AFTER_CLOSE = {"eio4-websocket-lo.pcap": [85]}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# imscope bugs the rules capture shows, by (schema, case label); strict: a fix makes the case XPASS (a
# failure) until the entry is removed. The cases' expectations are in the peer logs.
HUGE = "unknown messageType 2^64+1 (beyond 64 bits)"
NO_ARG = "chat without an argument"
KNOWN_BUGS = {}  # the bugs found here (huge messageType, chat without an argument, v1 red packet) are fixed


def report(problems):
    assert not problems, "%d problem(s):\n" % len(problems) + "\n".join(problems)


def rel(path):
    return str(Path(path).relative_to(REPO))


# ---------------------------------------------------------------------------------------------
# running imscope

@lru_cache(maxsize=None)
def binary():
    b = imscope_path()
    if not (b.is_file() and os.access(b, os.X_OK)):
        pytest.fail("imscope binary not found at %s: build it (swift build) or point IMSCOPE at it" % b)
    return str(b)


def env_without_color(**extra):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(extra)
    return env


@lru_cache(maxsize=None)
def run(*args, no_color=None):
    """imscope ARGS with stdout/stderr piped -> (returncode, stdout text, stderr text)."""
    env = env_without_color(**({"NO_COLOR": no_color} if no_color is not None else {}))
    p = subprocess.run([binary()] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=120)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", errors="replace")


def run_ok(*args):
    rc, out, err = run(*args)
    assert rc == 0, "imscope %s exited %d; stderr:\n%s" % (" ".join(map(str, args)), rc, err[-3000:])
    return out


_DECODER = json.JSONDecoder(parse_float=Decimal)


def jsonl_stream(capture, *args):
    """`imscope read CAPTURE --format jsonl ARGS` read as a stream of JSON values -> (output, [(start,
    end)], records); numbers kept as Decimal. Line breaks are not relied on here: whether each record
    is exactly one line is test_jsonl_one_record_per_line's business, so that a framing bug does not
    hide everything else."""
    out = run_ok("read", capture, "--format", "jsonl", *args)
    spans, recs, i = [], [], 0
    while True:
        while i < len(out) and out[i] in " \t\r\n":
            i += 1
        if i == len(out):
            break
        try:
            rec, end = _DECODER.raw_decode(out, i)
        except ValueError as e:
            raise AssertionError("%s %s: output is not a sequence of JSON values at offset %d (%s): %r"
                                 % (capture, " ".join(args), i, e, out[i:i + 300]))
        assert isinstance(rec, dict) and "kind" in rec, "%s: a record without kind: %r" % (capture, out[i:end][:300])
        spans.append((i, end))
        recs.append(rec)
        i = end
    return out, spans, recs


def jsonl(capture, *args):
    """(record texts, records) of `imscope read CAPTURE --format jsonl ARGS`."""
    out, spans, recs = jsonl_stream(capture, *args)
    return [out[a:b] for a, b in spans], recs


def text_lines(capture, *args):
    out = run_ok("read", capture, "--format", "text", *args)
    return [l for l in out.split("\n") if l != ""]


def run_on_tty(*args, no_color=None):
    """imscope ARGS with stdout on a pseudo-terminal -> (returncode, output with \\r\\n as \\n)."""
    env = env_without_color(TERM="xterm-256color", **({"NO_COLOR": no_color} if no_color is not None else {}))
    master, slave = pty.openpty()
    p = subprocess.Popen([binary()] + [str(a) for a in args], stdout=slave, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            p.kill()
            raise AssertionError("imscope on a terminal: no output for 60 s")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    p.stderr.read()
    rc = p.wait(timeout=60)
    return rc, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------------
# the tables

def tsv_rows(schema):
    """messageType rows of a table file: [(n, direction, typeName, description)]."""
    rows = []
    for line in TSV[schema].read_text(encoding="utf-8").split("\n"):
        if not line or line.startswith("#") or line.startswith("@"):
            continue
        cols = line.split("\t")
        assert len(cols) == 4, "%s: %r" % (TSV[schema], line)
        rows.append((int(cols[0]), cols[1], cols[2], cols[3]))
    return rows


def tsv_directives(schema, name):
    return [line.split("\t")[1:] for line in TSV[schema].read_text(encoding="utf-8").split("\n")
            if line.startswith("@" + name + "\t")]


def structured(schema):
    """messageType -> ('object', {field: type}) or ('enum', [values]) from the @content lines."""
    out = {}
    for cols in tsv_directives(schema, "content"):
        if cols[1] == "object":
            out[int(cols[0])] = ("object", dict(c.split(":") for c in cols[2:]))
        else:
            out[int(cols[0])] = ("enum", cols[2:])
    return out


# ---------------------------------------------------------------------------------------------
# the logs

def load_log(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line, parse_float=Decimal) for line in f if line.strip()]


def logs_of(capture):
    stem = capture.name.rsplit(".", 1)[0]
    out = []
    for side in ("client", "server"):
        for ext in (".jsonl", ".jsonl.gz"):
            p = capture.parent / ("%s.%s%s" % (stem, side, ext))
            if p.exists():
                out.extend(load_log(p))
                break
    return out


def first_arg(args):
    return args[0] if isinstance(args, list) and args else None


def as_object(arg):
    """args[0] as the ImMessage object it is or holds (a JSON string is parsed), else None."""
    if isinstance(arg, str):
        try:
            arg = json.loads(arg, parse_float=Decimal)
        except ValueError:
            return None
    return arg if isinstance(arg, dict) else None


def msg_id_of(arg):
    obj = as_object(arg)
    mid = obj.get("msgId") if obj is not None else None
    return mid if isinstance(mid, str) else None


@lru_cache(maxsize=None)
def rules_cases():
    """The scripted messages of the rules capture, in the order they were sent per side."""
    assert RULES.is_file(), "%s is missing (Captures/make-im-captures.sh makes it)" % rel(RULES)
    cases = []
    for e in logs_of(RULES):
        if e["action"] == "emit" and "label" in e:
            cases.append({
                "label": e["label"], "side": e["side"], "seq": e["seq"], "session": e.get("session"),
                "dir": "c2s" if e["side"] == "client" else "s2c", "event": e["event"], "args": e["args"],
                "msgId": msg_id_of(first_arg(e["args"])), "schema": e["schema"], "expect": e["expect"],
                "by": e["expectBySchema"], "allow": e.get("allow", []), "why": e.get("why"),
            })
    return cases


def describe(case, schema=None):
    return "%s %s seq %d %r (%s, msgId %s%s)" % (
        rel(RULES), case["side"], case["seq"], case["label"], case["dir"], case["msgId"],
        ", --schema %s" % schema if schema else "")


def chat_events(recs):
    """(index, record) of the sio EVENT records of a chat/chatroom event."""
    return [(i, r) for i, r in enumerate(recs) if r.get("kind") == "sio"
            and r.get("sio", {}).get("type") == "EVENT" and r["sio"].get("event") in ("chat", "chatroom")]


def match_cases(recs):
    """case index -> (record index, record) or None, each record used once."""
    events = chat_events(recs)
    by_id = {}
    for i, r in events:
        mid = msg_id_of(first_arg(r["sio"].get("args")))
        by_id.setdefault((r["dir"], r["sio"]["event"], mid), []).append((i, r))
    out = {}
    for k, case in enumerate(rules_cases()):
        if case["msgId"] is not None:
            found = by_id.get((case["dir"], case["event"], case["msgId"]), [])
        else:
            found = [(i, r) for i, r in events if r["dir"] == case["dir"] and r["sio"]["event"] == case["event"]
                     and r["sio"].get("args") == case["args"]]
        out[k] = found[0] if len(found) == 1 else (None if not found else ("many", found))
    return out


def codes_of(rec):
    return [w.get("code") for w in rec["im"].get("warnings", [])]


# ---------------------------------------------------------------------------------------------
# 0. the test material itself

def test_rules_capture_material():
    cases = rules_cases()
    client = [e for e in logs_of(RULES) if e["side"] == "client"]
    server = [e for e in logs_of(RULES) if e["side"] == "server"]
    assert_logs_agree(client, server)
    assert RULES.stat().st_size < 512 * 1024
    for schema in SCHEMAS:
        expected = {c for case in cases for c in (case["by"][schema] or [])}
        assert expected == set(CODES), "%s: no case expects %s" % (schema, set(CODES) - expected)
        assert sum(1 for case in cases if case["by"][schema] == []) >= 20
    assert {case["schema"] for case in cases} == {"v1", "v2"}
    assert all(case["expect"] == case["by"][case["schema"]] for case in cases)
    assert all(case["why"] for case in cases if None in case["by"].values() or case["allow"])
    assert {case["side"] for case in cases} == {"client", "server"}
    assert {case["event"] for case in cases} == {"chat", "chatroom"}
    assert {case["session"] for case in cases if case["side"] == "client"} == {1, 2}


# ---------------------------------------------------------------------------------------------
# 1. the rules, per schema and message

def _case_params():
    try:
        cases = rules_cases()
    except AssertionError:
        return []  # test_rules_capture_material says why
    out = []
    for schema in SCHEMAS:
        for k, case in enumerate(cases):
            bug = KNOWN_BUGS.get((schema, case["label"]))
            out.append(pytest.param(schema, k, id="%s-%s%d-%s" % (schema, case["side"], case["seq"],
                                                                 re.sub(r"[^A-Za-z0-9]+", "_", case["label"])[:48]),
                                    marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else []))
    return out


@lru_cache(maxsize=None)
def matched_for(schema):
    _, recs = jsonl(RULES, "--schema", schema)
    return recs, match_cases(recs)


@pytest.mark.parametrize("schema,k", _case_params())
def test_rule(schema, k):
    """The message is in imscope's output once; its codes are the expected ones (+ allowed ones)."""
    case = rules_cases()[k]
    recs, matched = matched_for(schema)
    m = matched[k]
    assert m is not None, "%s: not in imscope's output" % describe(case, schema)
    assert m[0] != "many", "%s: %d records match (frames %s)" % (describe(case, schema), len(m[1]),
                                                                  [r["frame"] for _, r in m[1]])
    rec = m[1]
    where = "%s, frame %d" % (describe(case, schema), rec["frame"])
    if case["event"] not in EVENTS[schema]:
        assert "im" not in rec, "%s: an im object on a %s event, which the %s table does not name" % (
            where, case["event"], schema)
        return
    assert "im" in rec, "%s: no im object" % where
    im = rec["im"]
    if case["msgId"] is not None:
        assert im.get("msgId") == case["msgId"], "%s: im.msgId %r" % (where, im.get("msgId"))
    for w in im.get("warnings", []):
        assert isinstance(w.get("code"), str) and w["code"].startswith("im.") and w.get("message"), \
            "%s: malformed warning %r" % (where, w)
    expect = case["by"][schema]
    if expect is None:
        return  # not asserted: see the log's `why`
    got = codes_of(rec)
    shown = [(w.get("code"), w.get("message")) for w in im.get("warnings", [])] or "no warning"
    missing = [c for c in expect if c not in got]
    assert not missing and (expect or not got), "%s: expected %s, imscope says %s" % (
        where, expect or "no warning", shown)
    extra = [c for c in got if c not in expect and c not in case["allow"]]
    assert not extra, "%s: expected %s, imscope adds %s (all: %s)" % (where, expect, extra, shown)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_rules_capture_has_only_the_scripted_chats(schema):
    """Every chat/chatroom EVENT in the rules capture is a scripted case (nothing unexpected decoded)."""
    _, recs = jsonl(RULES, "--schema", schema)
    used = {m[0] for m in match_cases(recs).values() if m is not None and m[0] != "many"}
    extra = [(r["frame"], r["dir"], r["sio"].get("args")) for i, r in chat_events(recs) if i not in used]
    assert not extra, "chat events no case accounts for: %s" % extra


# ---------------------------------------------------------------------------------------------
# 2. every committed capture

def expected_message_type(arg):
    obj = as_object(arg)
    if obj is None:
        return None
    mt = obj.get("messageType")
    if isinstance(mt, str) and re.fullmatch(r"-?[0-9]+", mt.strip()):
        return int(mt)
    return mt if isinstance(mt, int) and not isinstance(mt, bool) else None


def known_bug_records(recs, schema="v2"):
    """Indexes of the rules capture's records whose case has a KNOWN_BUGS entry for this schema (those
    fail, as strict xfails, in test_rule)."""
    cases = rules_cases()
    return {m[0] for k, m in match_cases(recs).items()
            if m is not None and m[0] != "many" and (schema, cases[k]["label"]) in KNOWN_BUGS}


@pytest.mark.parametrize("capture", ALL_CAPTURES, ids=lambda p: rel(p))
def test_every_capture_chat_has_im(capture):
    _, recs = jsonl(capture)
    problems = []
    skip = known_bug_records(recs) if capture == RULES else set()
    events = [(i, r) for i, r in chat_events(recs) if i not in skip]
    for _, r in events:
        where = "%s frame %d %s" % (rel(capture), r["frame"], r["dir"])
        if "im" not in r:
            problems.append("%s: %s EVENT without an im object" % (where, r["sio"]["event"]))
            continue
        want = expected_message_type(first_arg(r["sio"].get("args")))
        if r["im"].get("messageType") != want:
            problems.append("%s: im.messageType %r, args[0].messageType %r" % (where, r["im"].get("messageType"),
                                                                               want))
    if capture == RULES:
        matched = match_cases(recs)
        for k, case in enumerate(rules_cases()):
            m = matched[k]
            if case["by"]["v2"] == [] and m is not None and m[0] != "many" and "im" in m[1] and codes_of(m[1]):
                problems.append("%s: well-formed, warnings %s" % (describe(case), m[1]["im"]["warnings"]))
    else:
        # all the peers' messages in these captures are well-formed (Captures/README.md)
        logged = {msg_id_of(first_arg(e["args"])) for e in logs_of(capture)
                  if e.get("action") in ("emit", "recv") and e.get("event") in ("chat", "chatroom")}
        for _, r in events:
            if "im" in r and r["im"].get("warnings"):
                problems.append("%s frame %d %s msgId %s: a well-formed peer message with warnings %s" % (
                    rel(capture), r["frame"], r["dir"], r["im"].get("msgId"), r["im"]["warnings"]))
            if logged and msg_id_of(first_arg(r["sio"].get("args"))) not in logged:
                problems.append("%s frame %d: a chat the peers did not log" % (rel(capture), r["frame"]))
    report(problems)


@pytest.mark.parametrize("capture,schema", [(p, "v2") for p in ALL_CAPTURES] + [(RULES, "v1")],
                         ids=lambda v: rel(v) if isinstance(v, Path) else v)
def test_jsonl_one_record_per_line(capture, schema):
    """JSONL: one JSON object per line (DESIGN.md), so that line tools (jq, grep, wc -l) work."""
    out, spans, recs = jsonl_stream(capture, "--schema", schema)
    problems = []
    prev = 0
    for (a, b), rec in zip(spans, recs):
        if out[prev:a] not in ("", "\n") or "\n" in out[a:b]:
            problems.append("frame %s %s: record spans %d lines: %r" % (
                rec.get("frame"), rec.get("kind"), out[a:b].count("\n") + 1, out[a:b][-400:]))
        prev = b
    assert out[prev:] == "\n", "output does not end with one newline"
    report(problems)


def test_some_captures_have_chats():
    with_chats = [p for p in ALL_CAPTURES if chat_events(jsonl(p)[1])]
    assert RULES in with_chats and len(with_chats) >= 7, [rel(p) for p in with_chats]


# ---------------------------------------------------------------------------------------------
# 3. the im fields of well-formed messages

@pytest.mark.parametrize("schema", SCHEMAS)
def test_im_fields(schema):
    _, recs = jsonl(RULES, "--schema", schema)
    rows = {n: (d, name, desc) for n, d, name, desc in tsv_rows(schema)}
    from_types = {int(cols[0]): cols[1] for cols in tsv_directives(schema, "fromType")}
    shapes = structured(schema)
    matched = match_cases(recs)
    problems = []
    checked = 0
    for k, case in enumerate(rules_cases()):
        m = matched[k]
        if case["by"][schema] != [] or m is None or m[0] == "many" or "im" not in m[1]:
            continue
        im, msg = m[1]["im"], as_object(first_arg(case["args"]))
        n = msg["messageType"]
        want = {"messageType": n, "msgId": msg["msgId"], "fromId": msg["fromId"], "destId": msg["destId"],
                "fromType": msg["fromType"], "fromTypeName": from_types[msg["fromType"]],
                "direction": rows[n][0], "typeName": rows[n][1], "description": rows[n][2]}
        content = msg["content"]
        if shapes.get(n, ("",))[0] == "object":
            want["content"] = as_object(content)
        elif n not in shapes:
            want["content"] = content
        for key, value in want.items():
            if im.get(key) != value:
                problems.append("%s: im.%s %r, expected %r" % (describe(case, schema), key, im.get(key), value))
        checked += 1
    assert checked >= 20
    report(problems)


# ---------------------------------------------------------------------------------------------
# 4. imscope types

@pytest.mark.parametrize("schema", SCHEMAS)
def test_types(schema):
    out = run_ok("types", "--schema", schema, "--format", "jsonl")
    got = [json.loads(l) for l in out.split("\n") if l.strip()]
    rows = tsv_rows(schema)
    assert [(r.get("messageType"), r.get("direction"), r.get("typeName"), r.get("description")) for r in got] == rows
    numbers = [r["messageType"] for r in got]
    if schema == "v1":
        assert numbers == list(range(1, 38))
        assert len(got) == 37
    else:
        assert [r["typeName"] for r in got if r["messageType"] == 31] == ["heartbeat"]
        assert numbers[-1] == 168 and numbers == sorted(numbers)


# ---------------------------------------------------------------------------------------------
# 5. filters

def first_packet_time(capture):
    raw = Path(capture).read_bytes()
    for e in "<>":
        magic = struct.unpack(e + "I", raw[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            sec, frac = struct.unpack(e + "II", raw[24:32])
            return Decimal(sec) + Decimal(frac) / (10 ** 9 if magic == 0xA1B23C4D else 10 ** 6)
    e = "<" if raw[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    off, res = 0, 6
    while off + 12 <= len(raw):
        btype, blen = struct.unpack(e + "II", raw[off:off + 8])
        if btype == 1:
            o = off + 16
            while o + 4 <= off + blen - 4:
                code, olen = struct.unpack(e + "HH", raw[o:o + 4])
                if code == 0:
                    break
                if code == 9:
                    res = raw[o + 4]
                o += 4 + (olen + 3) // 4 * 4
        elif btype == 6:
            hi, lo = struct.unpack(e + "II", raw[off + 12:off + 20])
            units = (hi << 32) | lo
            return Decimal(units) / (Decimal(2) ** (res & 0x7F) if res & 0x80 else Decimal(10) ** res)
        off += blen
    raise AssertionError("%s: no packet" % capture)


def im_of(r):
    return r.get("im") if isinstance(r.get("im"), dict) else None


def type_numbers(schema, values):
    names = {name: n for n, _, name, _ in tsv_rows(schema)}
    return {int(v) if v.isdigit() else names[v] for v in values}


def sid_of(capture, conn):
    return next(r["sid"] for r in jsonl(capture)[1] if r.get("conn") == conn and r.get("sid"))


def predicate(key, value, schema, t0):
    values = value.split(",")
    if key == "conn":
        return lambda r: r.get("conn") in {int(v) for v in values}
    if key == "dir":
        return lambda r: r.get("dir") in values
    if key == "user":
        return lambda r: im_of(r) is not None and (im_of(r).get("fromId") in values or im_of(r).get("destId") in values)
    if key == "type":
        wanted = type_numbers(schema, values)
        return lambda r: im_of(r) is not None and im_of(r).get("messageType") in wanted
    if key == "event":
        return lambda r: r.get("sio", {}).get("event") in values
    if key == "sid":
        return lambda r: r.get("sid") in values
    if key == "kind":
        return lambda r: r.get("kind") in values
    if key == "time":
        # seconds since the first packet; values over 10^9 are epoch seconds
        lo, hi = [Decimal(v) if v else None for v in value.split("..")]
        lo, hi = [v if v is None or v > 10 ** 9 else t0 + v for v in (lo, hi)]
        return lambda r: "ts" in r and (lo is None or r["ts"] >= lo) and (hi is None or r["ts"] <= hi)
    raise AssertionError(key)


# what the default text view folds away: Engine.IO and WebSocket pings and pongs, HTTP requests and
# responses (long-polling, and the websocket upgrade, shown by its conn record's `upgrade` line), and
# Engine.IO noop (the polling transport's answer during an upgrade; the user guide does not list it)
FOLDED = lambda r: (r.get("kind") == "http" or (r.get("kind") == "ws" and r.get("opcode") in ("ping", "pong"))  # noqa: E731
                    or (r.get("kind") == "eio" and r["eio"].get("type") in ("ping", "pong", "noop")))

RULES_NAME = "im/im-rules-lo.pcap"
POLLING = "eio4-polling-upgrade-any.pcapng"
FILTERS = [
    (RULES_NAME, ["user=u1"]),
    (RULES_NAME, ["type=text,file"]),
    (RULES_NAME, ["type=2"]),
    (RULES_NAME, ["type=heartbeat,17"]),
    (RULES_NAME, ["dir=s2c"]),
    (RULES_NAME, ["conn=1"]),
    (RULES_NAME, ["event=chatroom"]),
    (RULES_NAME, ["time=0..0.5"]),
    (RULES_NAME, ["time=2.5.."]),
    (RULES_NAME, ["time=..0.25"]),
    (RULES_NAME, ["time=@1.0..@2.0"]),
    (RULES_NAME, ["kind=conn,eio"]),
    (RULES_NAME, ["sid=@2"]),
    (RULES_NAME, ["user=u1", "dir=s2c"]),
    (RULES_NAME, ["type=text,file", "conn=2"]),
    (RULES_NAME, ["event=chat", "time=1..3", "dir=c2s"]),
    (RULES_NAME, ["--schema", "v1", "type=mention"]),
    (RULES_NAME, ["--schema", "v1", "type=34", "user=u1"]),
    (POLLING, ["user=u1"]),
    (POLLING, ["conn=1,2"]),
    (POLLING, ["sid=@3"]),
    (POLLING, ["type=text", "dir=s2c"]),
    (POLLING, ["time=0..0.5"]),
]


def filter_args(name, spec):
    """(imscope options, [(key, value)], schema) for a FILTERS entry; sid=@N is the sid of conn N,
    time=@A..@B the epoch times A and B seconds after the first packet."""
    capture = CAPTURES / name
    opts, pairs, schema = [], [], "v2"
    it = iter(spec)
    for item in it:
        if item == "--schema":
            schema = next(it)
            opts += ["--schema", schema]
            continue
        key, value = item.split("=", 1)
        if key == "sid" and value.startswith("@"):
            value = sid_of(capture, int(value[1:]))
        if key == "time" and "@" in value:  # @S: the epoch time S seconds after the first packet
            t0 = first_packet_time(capture)
            value = "..".join(str(t0 + Decimal(v[1:])) if v else "" for v in value.split(".."))
        pairs.append((key, value))
        opts += ["--filter", "%s=%s" % (key, value)]
    return opts, pairs, schema


@pytest.mark.parametrize("name,spec", FILTERS, ids=["%s %s" % (n, " ".join(s)) for n, s in FILTERS])
def test_filter(name, spec):
    capture = CAPTURES / name
    opts, pairs, schema = filter_args(name, spec)
    base = ["--schema", schema]
    lines, recs = jsonl(capture, *base)
    t0 = first_packet_time(capture)
    preds = [predicate(k, v, schema, t0) for k, v in pairs]
    keep = [i for i, r in enumerate(recs) if all(p(r) for p in preds)]
    assert 0 < len(keep) < len(recs), "filter %s keeps %d of %d records: not a useful case" % (spec, len(keep),
                                                                                             len(recs))
    want = [lines[i] for i in keep]
    got, _ = jsonl(capture, *opts)
    if got != want:
        gs, ws = set(got), set(want)
        raise AssertionError("%s %s: jsonl differs: %d lines, expected %d; extra %s; missing %s" % (
            name, spec, len(got), len(want), [l[:160] for l in got if l not in ws][:5],
            [l[:160] for l in want if l not in gs][:5]))
    out = run_ok("read", capture, "--format", "json", *opts)
    assert json.loads(out, parse_float=Decimal) == [recs[i] for i in keep], "%s %s: json differs" % (name, spec)
    all_lines = text_lines(capture, "--all", *opts)
    assert len(all_lines) == len(keep), "%s %s: text --all has %d lines for %d records" % (
        name, spec, len(all_lines), len(keep))
    folded = sum(1 for i in keep if FOLDED(recs[i]))
    default = text_lines(capture, *opts)
    assert len(default) == len(keep) - folded, "%s %s: text has %d lines for %d records (%d folded)" % (
        name, spec, len(default), len(keep), folded)


@pytest.mark.parametrize("bad", ["nope=1", "type=nonexistent", "conn=x", "dir=up", "time=abc", "user", "=u1"])
def test_bad_filter(bad):
    for fmt in ("jsonl", "text"):
        rc, out, err = run("read", RULES, "--format", fmt, "--filter", bad)
        assert rc == 64, "--filter %s exited %d (stderr %r)" % (bad, rc, err)
        assert err.strip(), "--filter %s: nothing on stderr" % bad
        assert out == "", "--filter %s: output on stdout: %r" % (bad, out[:300])


def test_type_filter_names_are_the_tables():
    """type=heartbeat is v2's 31; v1 has no heartbeat (exit 64), and its 31 is recall."""
    rc, _, err = run("read", RULES, "--schema", "v1", "--filter", "type=heartbeat")
    assert rc == 64 and err.strip()
    _, v1 = jsonl(RULES, "--schema", "v1", "--filter", "type=recall")
    _, v2 = jsonl(RULES, "--filter", "type=heartbeat")
    assert v1 and [r["frame"] for r in v1] == [r["frame"] for r in v2]
    assert {r["im"]["typeName"] for r in v1} == {"recall"} and {r["im"]["typeName"] for r in v2} == {"heartbeat"}


# ---------------------------------------------------------------------------------------------
# 6. --strict

@pytest.mark.parametrize("schema", SCHEMAS)
def test_strict_on_rules_capture(schema):
    rc, _, err = run("read", RULES, "--schema", schema, "--format", "jsonl")
    assert rc == 0, "without --strict warnings do not change the exit status: %d %s" % (rc, err)
    rc, _, err = run("read", RULES, "--schema", schema, "--format", "jsonl", "--strict")
    assert rc == 3, "--strict on the rules capture exited %d (stderr %r)" % (rc, err[-500:])


@pytest.mark.parametrize("name", CLEAN)
def test_strict_on_clean_capture(name):
    capture = CAPTURES / name
    _, recs = jsonl(capture)
    noisy = [r for r in recs if (r.get("kind") == "diagnostic" and r.get("severity") in ("warning", "error"))
             or r.get("warnings") or (im_of(r) and im_of(r).get("warnings"))]
    assert not noisy, "%s is not clean: %s" % (name, noisy[:5])
    assert any(im_of(r) for r in recs)
    rc, _, err = run("read", capture, "--format", "jsonl", "--strict")
    assert rc == 0, "--strict on clean %s exited %d (stderr %r)" % (name, rc, err[-500:])


@pytest.mark.parametrize("name", sorted(AFTER_CLOSE))
def test_frames_after_close_are_noted(name):
    capture = CAPTURES / name
    _, recs = jsonl(capture)
    after = [r for r in recs if r.get("kind") == "diagnostic" and r.get("code") == "ws.frame_after_close"]
    assert [(r.get("severity"), r.get("dir"), r.get("frame")) for r in after] == \
        [("info", "c2s", f) for f in AFTER_CLOSE[name]], after[:5]


# ---------------------------------------------------------------------------------------------
# 7. the text timeline

@pytest.mark.parametrize("schema", SCHEMAS)
def test_text_shows_warning_codes(schema):
    """The --all text lines are the jsonl records one for one; each scripted message's line shows every
    code of its im.warnings (so each rule-breaking message shows its codes: which codes those are is
    test_rule's business), and a message without warnings shows none; the well-formed ones (expect [])
    and at least one line per rule code are checked to be there."""
    _, recs = jsonl(RULES, "--schema", schema)
    text = text_lines(RULES, "--schema", schema, "--all")
    assert len(text) == len(recs), "text --all has %d lines, jsonl %d records" % (len(text), len(recs))
    matched = match_cases(recs)
    problems, seen = [], set()
    for k, case in enumerate(rules_cases()):
        m = matched[k]
        if m is None or m[0] == "many":
            continue  # test_rule says so
        i, rec = m
        line = text[i]
        arrow = "c→s" if rec["dir"] == "c2s" else "c←s"
        if "#%d" % rec["conn"] not in line or arrow not in line:
            problems.append("%s: text line %d does not look like record %d (conn %d %s): %r" % (
                describe(case, schema), i + 1, i + 1, rec["conn"], rec["dir"], line))
            continue
        codes = codes_of(rec) if "im" in rec else []
        missing = [c for c in codes if c not in line]
        if missing:
            problems.append("%s: text line lacks %s: %r" % (describe(case, schema), missing, line))
        if not codes and "im." in line:
            problems.append("%s: no warning, yet its text line shows a code: %r" % (describe(case, schema), line))
        seen.update(c for c in codes if c in line)
    assert seen == set(CODES), "no text line shows %s" % (set(CODES) - seen)
    report(problems)


def test_text_piped_has_no_escape_codes():
    for no_color in (None, "1"):
        rc, out, _ = run("read", RULES, "--format", "text", no_color=no_color)
        assert rc == 0 and out.strip()
        assert "\x1b" not in out, "escape codes in piped text output (NO_COLOR=%s)" % no_color
    rc, out, _ = run("read", RULES)  # not a terminal: jsonl by default
    assert rc == 0 and out == run_ok("read", RULES, "--format", "jsonl")


def test_text_on_a_terminal_and_no_color():
    rc, colored = run_on_tty("read", RULES)
    assert rc == 0
    assert ANSI.search(colored), "no colour on a terminal (without NO_COLOR)"
    rc, plain = run_on_tty("read", RULES, no_color="1")
    assert rc == 0
    assert "\x1b" not in plain, "escape codes on a terminal with NO_COLOR=1: %r" % plain[:300]
    piped = run_ok("read", RULES, "--format", "text")
    assert plain == piped, "NO_COLOR text on a terminal differs from the piped text"
    assert ANSI.sub("", colored) == piped, "coloured text differs from the plain text by more than escape codes"


def test_all_shows_more_lines():
    _, recs = jsonl(RULES)
    pings = [r for r in recs if r.get("kind") == "eio" and r["eio"].get("type") in ("ping", "pong")]
    assert pings, "the rules capture has no Engine.IO ping"
    default, everything = text_lines(RULES), text_lines(RULES, "--all")
    assert len(everything) > len(default)
    assert len(everything) - len(default) == sum(1 for r in recs if FOLDED(r))
