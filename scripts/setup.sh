#!/usr/bin/env bash
# Installs what imscope's build, demo and tests need, only where it is missing:
#   - Debian packages: libpcap-dev, zlib1g-dev, libsimdjson-dev (build), tcpdump, tshark (test peers and oracle),
#     time (GNU time: peak memory in the tests)
#   - Python virtualenvs for the real Socket.IO peers that generate test traffic:
#       .venv/eio4  python-socketio 5.x (Engine.IO 4), aiohttp, pytest
#       .venv/eio3  python-socketio 4.6.1 + python-engineio 3.14.2 (Engine.IO 3)
# Usage: scripts/setup.sh build   (only what `swift build` needs)
#        scripts/setup.sh demo    (that and .venv/eio4, for the IM server `make demo` replays against)
#        scripts/setup.sh test    (everything)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}

need_debs=()
dpkg -s libpcap-dev >/dev/null 2>&1 || need_debs+=(libpcap-dev)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need_debs+=(zlib1g-dev)
dpkg -s libsimdjson-dev >/dev/null 2>&1 || need_debs+=(libsimdjson-dev)
command -v pkg-config >/dev/null 2>&1 || need_debs+=(pkg-config)
if [ "$what" = test ]; then
    command -v tcpdump >/dev/null 2>&1 || need_debs+=(tcpdump)
    command -v tshark >/dev/null 2>&1 || need_debs+=(tshark)
    [ -x /usr/bin/time ] || need_debs+=(time)  # GNU time: the peak RSS of a command (test_ws: the bomb)
    command -v openssl >/dev/null 2>&1 || need_debs+=(openssl)  # test certificates (test_im_server: TLS)
fi
if [ ${#need_debs[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need_debs[*]}" >&2
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_debs[@]}" >/dev/null
fi

[ "$what" = build ] && exit 0

make_venv() { # name requirements-file
    local dir=.venv/$1 req=$2 stamp
    stamp="$dir/.stamp-$(sha1sum "$req" | cut -c1-12)"
    [ -f "$stamp" ] && return 0
    echo "setup: creating virtualenv $dir from $req" >&2
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$req"
    touch "$stamp"
}
make_venv eio4 Tests/integration/requirements-eio4.txt
[ "$what" = demo ] && exit 0
make_venv eio3 Tests/integration/requirements-eio3.txt
