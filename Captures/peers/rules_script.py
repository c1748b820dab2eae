"""The ImMessage rules conversation: which messages the rules peers send and which rules each breaks.

Shared by rules_client.py and rules_server.py (and read by Tests/integration/test_im.py through the peers'
logs, never imported by it: the logs are the record of what was sent).

Every case is (side, event, first argument, expectations). The expectations are written by hand from the
rules in Docs/user-guide.md ("The ImMessage layer") and the tables (Sources/IMProtocol/Resources/
messagetypes-v1.tsv, -v2.tsv), one list of im.* codes per schema:

  v2 / v1   the codes the message must raise when read with --schema v2 / v1; [] = well-formed for that
            schema, no warning at all. None = not asserted for that schema (`why` says why: the rules leave it
            open). A `chatroom` event has no `im` object under v1 (v1's table names only `chat`); its v1
            entry is None and the test checks that separately.
  schema    the schema the case is meant for: "v1" for the v1-specific cases (a v1 reading is the point),
            else "v2". The log's `expect` is the list of that schema.
  allow     codes that may come on top of the expected ones (the rules leave them open; `why` says why);
            any other extra code is a failure.
  label     a short name for reports.

All messages carry a unique msgId (a uuid from the seed) except the cases about msgId itself; the test
matches those by their arguments.
"""

import json

from imlog import AVATAR

RM, WT, UT, WD, BF, BC, SM = ("im.required_missing", "im.wrong_type", "im.unknown_type", "im.wrong_direction",
                              "im.bad_from_type", "im.bad_content", "im.schema_mismatch")


class Case:
    def __init__(self, label, event, arg, v2, v1, schema="v2", why=None, allow=()):
        self.label, self.event, self.arg = label, event, arg
        self.v2, self.v1, self.schema, self.why, self.allow = v2, v1, schema, why, list(allow)

    def note(self):
        """The keys the log adds to this case's `emit` record."""
        by = {"v2": self.v2, "v1": self.v1}
        note = {"label": self.label, "schema": self.schema, "expect": by[self.schema], "expectBySchema": by}
        if self.allow:
            note["allow"] = self.allow
        if self.why:
            note["why"] = self.why
        return note


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _msg(script, message_type, content, from_type=1, dest=None, sender=None, sender_name=None, drop=(), **extra):
    m = script.im(message_type, content, from_type=from_type, dest=dest, sender=sender, sender_name=sender_name)
    for k in drop:
        del m[k]
    m.update(extra)
    return m


def file_content(script, **over):
    c = {"fileName": "minutes-%d.pdf" % script.rng.randrange(1000), "fileSize": "48213",
         "fileUrl": "http://files.example.com/f/%s.pdf" % script.uuid(), "fileType": "pdf", "filished": False}
    c.update(over)
    return c


def emoji_cloud(script):
    return {"msgCodes": "[smile][heart]", "msgString": "\U0001F600\u2764", "msgType": "1", "aiteId": [10002, 10003]}


NO_ARGUMENT = None  # the case's event is emitted without arguments
V1_CHATROOM = "v1's table names only the `chat` event: no im object on a `chatroom` event under --schema v1"


def upstream(script):
    """Session 1, the client (u1 "Alice" writing to u2): well-formed cases, then rule breakers."""
    s = script
    m = lambda *a, **k: _msg(s, *a, **k)  # noqa: E731
    voice = {"url": "http://files.example.com/v/%s.amr" % s.uuid(), "time": 12}
    cases = [
        # ---- well-formed (v2), and what they are under v1
        Case("text", "chat", m(2, "hello, rules"), [], []),
        Case("text with empty content", "chat", m(2, ""), [], []),
        Case("image url", "chat", m(3, "http://img.example.com/p/%s.jpg" % s.uuid()), [], []),
        Case("file, content object", "chat", m(4, file_content(s)), [], []),
        Case("file, content JSON string", "chat", m(4, compact(file_content(s, filished=True))), [], []),
        Case("voice, content object", "chat", m(16, voice), [], []),
        Case("voice, content JSON string", "chat",
             m(16, compact({"url": "http://files.example.com/v/%s.amr" % s.uuid(), "time": 3})), [], []),
        Case("location", "chat",
             m(29, {"url": "http://maps.example.com/m/1", "addr": "1 Main St", "lat": 116.397, "lut": 39.909}), [], []),
        Case("short video", "chat",
             m(30, {"img": "http://img.example.com/v/1.jpg", "time": 9, "video": "http://files.example.com/v/1.mp4"}),
             [], []),
        Case("heartbeat 31 (v1: 31 recall)", "chat", m(31, "ping"), [], []),
        Case("emoji cloud 34, content object (v1: 34 is @, no such structure)", "chat", m(34, emoji_cloud(s)),
             [], [SM]),
        Case("emoji cloud 34, content JSON string", "chat", m(34, compact(emoji_cloud(s))), [], [SM]),
        Case("transfer arrived 39", "chat", m(39, {"amt": 100}), [], [SM]),
        Case("AA collection 40", "chat", m(40, {"totalAmt": 300, "msg": "dinner", "amt": 100, "counts": 3}), [], [SM]),
        Case("payment request 41", "chat", m(41, {"msg": "coffee", "amt": 18.5}), [], [SM]),
        Case("voice call answer 43 accept \"1\"", "chat", m(43, "1"), [], [SM]),
        Case("video call answer 45 reject \"0\"", "chat", m(45, "0"), [], [SM]),
        Case("ready-ack 1 from the client (up)", "chat", m(1, "ready"), [], []),
        Case("group text, fromType 2", "chat", m(2, "hi group", from_type=2, dest="g-100"), [], []),
        Case("third-party text, fromType 4", "chat", m(2, "from a bot", from_type=4), [], []),
        Case("optional fields present", "chat",
             m(2, "with extras", id=77, version=2, devType=1, geoId="39.9,116.4", sendTime=1795298725000,
               receiveTime=None, status=0), [], []),
        Case("whole ImMessage as a JSON string (text)", "chat", compact(m(2, "sent as a string")), [], []),
        Case("whole ImMessage as a JSON string (file, content object)", "chat", compact(m(4, file_content(s))),
             [], []),
        Case("whole ImMessage as a JSON string (file, content a JSON string in it)", "chat",
             compact(m(4, compact(file_content(s)))), [], []),
        Case("file content with an extra field", "chat", m(4, file_content(s, mimeType="application/pdf")), [], []),
        Case("text with an object content", "chat", m(2, {"text": "rich", "color": "red"}), [], []),
        Case("text with a newline and a tab", "chat", m(2, "line one\nline two\tend"), [], []),
        Case("file content a pretty-printed JSON string", "chat",
             m(4, json.dumps(file_content(s), indent=2, ensure_ascii=False)), [], []),
        Case("whole ImMessage as a JSON string with whitespace around", "chat",
             "\n  " + json.dumps(m(2, "spaced out"), indent=1) + "  \n", [], []),
        Case("location lat and lut integers", "chat",
             m(29, {"url": "http://maps.example.com/m/3", "addr": "3 Main St", "lat": 116, "lut": 40}), [], []),
        Case("chatroom enter 100 on chatroom", "chatroom", m(100, "enter", from_type=2, dest="room-7"), [], None,
             why=V1_CHATROOM),
        Case("chatroom message 102 on chatroom", "chatroom", m(102, "hello room", from_type=2, dest="room-7"), [],
             None, why=V1_CHATROOM),
        # ---- v1-specific
        Case("fromType 5 (official account) under v1", "chat", m(2, "from an official account", from_type=5),
             [], [BF], schema="v1"),
        Case("messageType 100 on chat under v1 (only in v2)", "chat", m(100, "enter", from_type=2, dest="room-8"),
             [], [SM], schema="v1"),
        Case("v1 emoji cloud 33 (v2: 33 read)", "chat", m(33, emoji_cloud(s)), [SM], [], schema="v1"),
        Case("v2 emoji cloud content on 34 under v1", "chat", m(34, emoji_cloud(s), from_type=2, dest="g-100"),
             [], [SM], schema="v1"),
        # ---- required fields
        Case("content missing", "chat", m(2, "x", drop=("content",)), [RM], [RM]),
        Case("content null", "chat", m(2, None), [RM], [RM]),
        Case("fromName missing", "chat", m(2, "no name", drop=("fromName",)), [RM], [RM]),
        Case("imageIconUrl null", "chat", m(2, "no avatar", imageIconUrl=None), [RM], [RM]),
        Case("destId null", "chat", m(2, "to nobody", destId=None), [RM], [RM]),
        Case("fromId missing", "chat", m(2, "from nobody", drop=("fromId",)), [RM], [RM]),
        Case("fromType null", "chat", m(2, "no fromType", fromType=None), [RM], [RM]),
        Case("messageType missing", "chat", m(2, "no type", drop=("messageType",)), [RM], [RM]),
        Case("msgId missing", "chat", m(2, "no msgId", drop=("msgId",)), [RM], [RM]),
        # ---- JSON types
        Case("messageType as a string \"2\"", "chat", m("2", "typed as a string"), [WT], [WT]),
        Case("fromType as a string \"1\"", "chat", m(2, "fromType as a string", from_type="1"), [WT], [WT]),
        Case("msgId as a number", "chat", m(2, "numeric msgId", msgId=4242), [WT], [WT]),
        Case("fromName as a number", "chat", m(2, "numeric name", fromName=12), [WT], [WT]),
        Case("imageIconUrl as an object", "chat", m(2, "avatar object", imageIconUrl={"url": AVATAR.format("u1")}),
             [WT], [WT]),
        Case("content a number (text)", "chat", m(2, 42), [WT], [WT]),
        Case("content an array (text)", "chat", m(2, ["a", "b"]), [WT], [WT]),
        Case("content a boolean (image)", "chat", m(3, True), [WT], [WT]),
        Case("ImMessage an array", "chat", ["not", "an", "ImMessage"], [WT], [WT]),
        Case("ImMessage a number", "chat", 31, [WT], [WT]),
        Case("ImMessage a JSON string holding an array", "chat", compact([1, 2, 3]), [WT], [WT]),
        Case("ImMessage a string that is not JSON", "chat", "{msgId: broken", [WT], [WT]),
        Case("chat without an argument", "chat", NO_ARGUMENT, None, None,
             why="no ImMessage at all: the rules do not say which code (im.wrong_type or im.required_missing) "
                 "or whether an im object comes; not asserted"),
        Case("messageType a non-numeric string \"text\"", "chat", m("text", "typed as a name"), [WT], [WT]),
        Case("messageType \"999\": a string and unknown", "chat", m("999", "string and unknown"), [WT, UT], [WT, UT]),
        Case("messageType \"5\" from the client: a string and downstream-only", "chat", m("5", "x", dest="u1"),
             [WT, WD], [WT, WD]),
        # ---- types and directions
        Case("unknown messageType 999", "chat", m(999, "what is this"), [UT], [UT]),
        Case("unknown messageType 0", "chat", m(0, "zero"), [UT], [UT]),
        Case("unknown messageType -2", "chat", m(-2, "minus two"), [UT], [UT]),
        Case("unknown messageType 2^64+1 (beyond 64 bits)", "chat", m(2 ** 64 + 1, "huge"), [UT], [UT]),
        Case("unknown messageType 999 on chatroom", "chatroom", m(999, "room?", from_type=2, dest="room-7"), [UT],
             None, why=V1_CHATROOM),
        Case("friend-online 5 (down) sent by the client", "chat", m(5, "online?", dest="u1"), [WD], [WD]),
        Case("kicked 15 (down) sent by the client", "chat", m(15, "kick"), [WD], [WD]),
        # ---- fromType range
        Case("fromType 6", "chat", m(2, "fromType six", from_type=6), [BF], [BF]),
        Case("fromType 0", "chat", m(2, "fromType zero", from_type=0), [BF], [BF]),
        Case("fromType -1", "chat", m(2, "fromType minus one", from_type=-1), [BF], [BF]),
        # ---- structured contents
        Case("file content missing fileUrl and filished", "chat",
             m(4, {"fileName": "a.pdf", "fileSize": "10", "fileType": "pdf"}), [BC], [BC]),
        Case("file content JSON string missing fileName", "chat",
             m(4, compact({"fileSize": "10", "fileUrl": "http://files.example.com/f/a.pdf", "fileType": "pdf",
                           "filished": False})), [BC], [BC]),
        Case("file fileSize a number", "chat", m(4, file_content(s, fileSize=48213)), [BC], [BC]),
        Case("file filished a string", "chat", m(4, file_content(s, filished="false")), [BC], [BC]),
        Case("voice time as a string", "chat", m(16, {"url": "http://files.example.com/v/x.amr", "time": "7"}),
             [BC], [BC]),
        Case("voice content not JSON", "chat", m(16, "{url: broken"), [BC], [BC]),
        Case("file content a JSON string holding an array", "chat", m(4, "[1,2]"), [BC], [BC]),
        Case("location lat as a string", "chat",
             m(29, {"url": "http://maps.example.com/m/2", "addr": "2 Main St", "lat": "116.4", "lut": 39.9}),
             [BC], [BC]),
        Case("short video missing video", "chat", m(30, {"img": "http://img.example.com/v/2.jpg", "time": 4}),
             [BC], [BC]),
        Case("emoji cloud 34 aiteId not an array (v1: 34 @, fits neither table)", "chat",
             m(34, {"msgCodes": "[smile]", "msgString": "x", "msgType": "1", "aiteId": 10002}), [BC], []),
        Case("transfer 39 amt as a string", "chat", m(39, {"amt": "100.00"}), [BC], [SM]),
        Case("AA collection 40 missing counts", "chat", m(40, {"totalAmt": 300, "msg": "x", "amt": 100}),
             [BC], [SM]),
        Case("voice call answer 43 content \"2\"", "chat", m(43, "2"), [BC], [SM]),
        Case("video call answer 45 content 2 (a number)", "chat", m(45, 2), [BC], [SM], allow=[WT],
             why="a number content may add im.wrong_type (content neither string nor object); not asserted either way"),
        Case("voice call answer 43 content 1 (a number)", "chat", m(43, 1), None, None,
             why="the table says content 1 = accept but not whether as a number or a string, while the rules say a "
                 "content neither string nor object is im.wrong_type: not asserted (the capture shows what imscope "
                 "makes of it)"),
        Case("voice call answer 43 content \"yes\"", "chat", m(43, "yes"), [BC], [SM]),
        Case("ImMessage as a JSON string, voice time a string", "chat",
             compact(m(16, {"url": "http://files.example.com/v/y.amr", "time": "long"})), [BC], [BC]),
        # ---- several rules at once
        Case("fromType 6 and content missing", "chat", m(2, "x", from_type=6, drop=("content",)), [BF, RM], [BF, RM]),
        Case("friend-online 5 from the client, fromType a string", "chat", m(5, "x", from_type="1", dest="u1"),
             [WD, WT], [WD, WT]),
        Case("unknown 999 and fromName null", "chat", m(999, "x", fromName=None), [UT, RM], [UT, RM]),
        Case("file content missing fields and fromType 7", "chat",
             m(4, {"fileName": "b.pdf"}, from_type=7), [BC, BF], [BC, BF]),
    ]
    return cases


def server_script(seed):
    import imlog
    return imlog.Script(seed, "u3", "Dave", "u1", "Alice")


def downstream(script):
    """Session 1, the server's own series (fromId u3 "Dave" or the system, to u1), sent on request."""
    s = script
    m = lambda *a, **k: _msg(s, *a, dest=k.pop("dest", "u1"), sender=k.pop("sender", "u3"),  # noqa: E731
                             sender_name=k.pop("sender_name", "Dave"), **k)
    return [
        Case("friend-online 5 from the server", "chat", m(5, "", from_type=3), [], []),
        Case("text from the server", "chat", m(2, "hello from Dave"), [], []),
        Case("red packet 17 from the server", "chat", m(17, {"redPacketId": 222, "msg": "恭喜发财"}), [], [],
             why="v1: 17 is red-packet in both tables (v1's scan cut the row's content description), so the "
                 "message reads the same under both: no im.schema_mismatch"),
        Case("red packet 17 content a JSON string", "chat", m(17, compact({"redPacketId": 223, "msg": "大吉"})),
             [], [], why="as for the red packet above"),
        Case("transfer received 18 (down)", "chat", m(18, "you received 100"), [], []),
        Case("kicked 15 (down)", "chat", m(15, "logged in elsewhere", from_type=3, sender="system",
                                           sender_name="System"), [], []),
        Case("heartbeat 31 from the server", "chat", m(31, "pong"), [], []),
        Case("system notice 68, fromType 3 (v1: 68 only in v2)", "chat",
             m(68, "maintenance at 03:00", from_type=3, sender="system", sender_name="System"), [], [SM]),
        Case("official account 70, fromType 5", "chat", m(70, "news", from_type=5, sender="oa-1",
                                                          sender_name="News"), [], [SM, BF]),
        Case("ready-ack 1 (up) sent by the server", "chat", m(1, "ready?"), [WD], [WD]),
        Case("ready-ack 1 (up) sent by the server as a JSON string", "chat", compact(m(1, "ready??")), [WD], [WD]),
        Case("red packet 17 redPacketId a string", "chat", m(17, {"redPacketId": "222", "msg": "x"}), [BC], []),
        Case("friend-online 5 content missing", "chat", m(5, "x", drop=("content",)), [RM], [RM]),
        Case("messageType as a string \"5\" from the server", "chat", m("5", "x"), [WT], [WT]),
        Case("chatroom message 102 from the server", "chatroom", m(102, "welcome", from_type=2, dest="room-7"), [],
             None, why=V1_CHATROOM),
    ]


def session2(script):
    """Session 2, the client as u5 "Erin" writing to u6: a few cases on a second connection."""
    s = script
    m = lambda *a, **k: _msg(s, *a, **k)  # noqa: E731
    return [
        Case("text (session 2)", "chat", m(2, "second connection"), [], []),
        Case("file (session 2)", "chat", m(4, file_content(s)), [], []),
        Case("chatroom enter (session 2)", "chatroom", m(100, "enter", from_type=2, dest="room-9"), [], None,
             why=V1_CHATROOM),
        Case("voice time as a string (session 2)", "chat", m(16, {"url": "http://files.example.com/v/z.amr",
                                                                  "time": "9"}), [BC], [BC]),
        Case("unknown messageType 555 (session 2)", "chat", m(555, "x"), [UT], [UT]),
    ]


# ---------------------------------------------------------------------------------------------
# The log: imlog's format, and on each `emit` of a case the case's note (label, schema, expect,
# expectBySchema, why).

def _key(value):
    import imlog
    return json.dumps(imlog.jsonable(value), sort_keys=True, ensure_ascii=False)


def make_log(path, side):
    import imlog

    class RulesLog(imlog.EventLog):
        def __init__(self):
            super().__init__(path, side)
            self._notes = {}

        def expect(self, case):
            key = _key(case.arg) if case.arg is not NO_ARGUMENT else "<none>"
            assert key not in self._notes, "two cases with the same argument: " + case.label
            self._notes[key] = case.note()

        def extra(self, action, args):
            # the case's note on an emit (after imlog.EventLog.write's fields)
            return self._notes.get(_key(args[0]) if args else "<none>") if action == "emit" else None

    return RulesLog()


def msg_id(arg):
    """The msgId of a first argument (an object, or a string holding one), else None."""
    if isinstance(arg, str):
        try:
            arg = json.loads(arg)
        except ValueError:
            return None
    if isinstance(arg, dict) and isinstance(arg.get("msgId"), str):
        return arg["msgId"]
    return None
