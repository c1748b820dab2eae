"""Shared plumbing of all capture peers (the Socket.IO ones and the plain aiohttp WebSocket ones):
the JSONL log writer, the socket options that keep segments small on the loopback interface and
the aiohttp server loop. It imports neither socketio nor aiohttp at module level, so it runs under
both test virtualenvs and in the deflate peers alike.

Segment sizes: the loopback interface has MTU 65536 and does GSO, so by default a 20 KB message is
a single TCP segment on lo. A server's listening socket therefore gets TCP_MAXSEG (`mss`; the
client learns it from the SYN-ACK) and a small SO_RCVBUF (`rcvbuf`, inherited by accepted
connections); clients give their own sockets a small SO_RCVBUF (limit_receive_buffer). A small
receive window is what really keeps segments small on lo (GSO packs up to the window).
"""

import asyncio
import json
import os
import signal
import socket
import sys
import threading
import time


class JsonlLog:
    """Thread-safe JSONL writer: every record starts with seq (running number in this file),
    time (wall time, time.time(), rounded to microseconds) and side, then the caller's fields;
    each line is written and flushed as it happens."""

    def __init__(self, path, side):
        self.side = side
        self._file = open(path, "w", encoding="utf-8")
        self._lock = threading.Lock()
        self._seq = 0

    def _append(self, fields):
        with self._lock:
            self._seq += 1
            rec = {"seq": self._seq, "time": round(time.time(), 6), "side": self.side}
            rec.update(fields)
            self._file.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self):
        with self._lock:
            self._file.close()


def listening_socket(host, port, mss, rcvbuf, backlog=64, v6only=True):
    """A non-blocking listening socket on host:port (IPv6 when host has a colon) whose connections
    use TCP_MAXSEG `mss` and SO_RCVBUF `rcvbuf` (0: leave the default)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only and family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if mss:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def limit_receive_buffer(size):
    """Give every TCP socket this process connects (requests/urllib3 for polling, websocket-client
    or aiohttp for websocket) SO_RCVBUF `size` before connecting, so the window it announces is
    small and the server's large messages span many segments even on the loopback interface."""
    orig_connect = socket.socket.connect

    def connect(self, address):
        if self.type == socket.SOCK_STREAM:
            self.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return orig_connect(self, address)

    socket.socket.connect = connect


async def serve(app, sock, banner, ready_file, ssl_context=None, shutdown_timeout=None):
    """Run the aiohttp `app` on the listening socket `sock` until SIGINT or SIGTERM: print `banner`
    to stderr and write `ready_file` (the pid) once it listens, then clean up on the signal.
    With `ssl_context` (an ssl.SSLContext) it serves TLS; `shutdown_timeout` (seconds) bounds how long the
    cleanup waits for requests still pending (aiohttp's default: 60)."""
    from aiohttp import web

    more = {} if shutdown_timeout is None else {"shutdown_timeout": shutdown_timeout}
    runner = web.AppRunner(app, handle_signals=False, access_log=None, **more)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_context)
    await site.start()
    await wait_for_stop(banner, ready_file)
    await runner.cleanup()


async def wait_for_stop(banner, ready_file):
    """Says the server is up (the banner on stderr, our pid in `ready_file`) and waits for SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    print(banner, file=sys.stderr, flush=True)
    if ready_file:
        with open(ready_file, "w") as f:
            f.write("%d\n" % os.getpid())
    await stop.wait()
