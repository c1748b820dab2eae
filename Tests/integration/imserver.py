"""Start and stop Captures/peers/im_server.py (the IM server the replay tests run against), and drive real
python-socketio clients against it from either virtualenv (im_probe.py).

    from imserver import ImServer, VENVS, run_probe
    with ImServer("eio4", regress=["drop-type:3"]) as srv:   # a free port on 127.0.0.1
        srv.url                                              # http://127.0.0.1:PORT
        ...
The server is always stopped (SIGTERM, then SIGKILL after 5 s) when the block ends, also on failure.
The conftest fixture `im_server` does the same for tests: im_server("eio3", regress=[...]).

VENVS maps "eio4"/"eio3" to the interpreters: IMSCOPE_VENV_DIR (environment) or the repository's .venv,
falling back to /work/main/.venv (the shared venvs) when the worktree has none.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IM_SERVER = REPO / "Captures" / "peers" / "im_server.py"
IM_PROBE = HERE / "im_probe.py"


def venv_python(name):
    """The python of venv `name` ("eio4"/"eio3"), or None when it does not exist."""
    dirs = [os.environ.get("IMSCOPE_VENV_DIR"), REPO / ".venv", "/work/main/.venv"]
    for d in dirs:
        if d:
            p = Path(d) / name / "bin" / "python"
            if p.exists():
                return str(p)
    return None


VENVS = {name: venv_python(name) for name in ("eio4", "eio3")}


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ImServer:
    """One im_server.py process under venv `venv`; extra: more command-line arguments."""

    def __init__(self, venv="eio4", regress=(), host="127.0.0.1", port=None, log=None, namespace=None,
                 cert=None, key=None, ping_interval=None, ping_timeout=None, extra=(), timeout=15):
        python = VENVS.get(venv) or venv_python(venv)
        if not python:
            raise RuntimeError("virtualenv %s not found (scripts/setup.sh test creates it)" % venv)
        self.venv, self.host, self.timeout = venv, host, timeout
        self.port = port or free_port(host)
        self.tls = bool(cert)
        self._dir = tempfile.mkdtemp(prefix="imserver-")
        self.ready_file = os.path.join(self._dir, "ready")
        self.stderr_path = os.path.join(self._dir, "stderr")
        cmd = [python, str(IM_SERVER), "--host", host, "--port", str(self.port), "--ready-file", self.ready_file]
        for r in regress:
            cmd += ["--regress", r]
        for flag, value in (("--log", log), ("--namespace", namespace), ("--cert", cert), ("--key", key),
                            ("--ping-interval", ping_interval), ("--ping-timeout", ping_timeout)):
            if value is not None:
                cmd += [flag, str(value)]
        self.cmd = cmd + list(extra)
        self.proc = None

    @property
    def url(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % ("https" if self.tls else "http", h, self.port)

    def start(self):
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self._err,
                                     start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while not os.path.exists(self.ready_file) or not open(self.ready_file).read().strip():
            if self.proc.poll() is not None:
                err = self.stderr()
                self.stop()
                raise RuntimeError("im_server exited %d before listening: %s" % (self.proc.returncode, err))
            if time.monotonic() > deadline:
                err = self.stderr()
                self.stop()
                raise RuntimeError("im_server not listening after %ss: %s" % (self.timeout, err))
            time.sleep(0.02)
        return self

    def stderr(self):
        try:
            return open(self.stderr_path, errors="replace").read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s; returns the exit code (None if never started). Idempotent."""
        if self.proc is None:
            return None
        if self._err.closed:
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._err.close()
        shutil.rmtree(self._dir, ignore_errors=True)  # the ready file and stderr
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_probe(venv, url, steps, transports=("websocket",), namespace="/", insecure=False, timeout=30):
    """Run im_probe.py under venv `venv` with these steps (see im_probe.py); returns its JSON result."""
    python = VENVS.get(venv) or venv_python(venv)
    cmd = [python, str(IM_PROBE), "--url", url, "--namespace", namespace,
           "--transports", ",".join(transports)] + (["--insecure"] if insecure else [])
    p = subprocess.run(cmd, input=json.dumps(steps).encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("im_probe (%s) exited %d:\n%s" % (venv, p.returncode, p.stderr.decode(errors="replace")[-3000:]))
    return json.loads(p.stdout)


if __name__ == "__main__":  # python3 imserver.py eio3 [--regress ...]: run one in the foreground
    srv = ImServer(sys.argv[1] if len(sys.argv) > 1 else "eio4", extra=sys.argv[2:])
    with srv:
        print(srv.url, flush=True)
        try:
            srv.proc.wait()
        except KeyboardInterrupt:
            pass
