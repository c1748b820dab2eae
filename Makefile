# imscope: the two set-up commands are `make demo` and `make test`; each installs what it needs first.
SHELL := /bin/bash
SWIFT ?= swift
DEMO_CAPTURE ?= Captures/eio4-polling-upgrade-any.pcapng
PYTEST := .venv/eio4/bin/pytest
# Release builds link the Swift runtime and Foundation statically: start-up 16 ms -> 10 ms and 4-5 MiB less
# resident memory (no dynamic symbol resolution of libFoundation), for a larger binary (92 MB against 20 MB).
RELEASE := -c release --static-swift-stdlib

.PHONY: all build release demo test unit integration captures lint bench bench-replay bench-replay-load clean diagnostics-doc

all: build

build:
	scripts/setup.sh build
	$(SWIFT) build

release:
	scripts/setup.sh build
	$(SWIFT) build $(RELEASE)

## demo: build a release binary, decode a bundled capture for a person to read, then replay a capture of two
## users chatting against the bundled IM server (and a regressed copy of it) and show the verdicts.
demo: release
	scripts/setup.sh demo
	@echo "== imscope read $(DEMO_CAPTURE) --layer tcp   (connections, bytes, gaps)"
	.build/release/imscope read $(DEMO_CAPTURE) --layer tcp --format text
	@echo
	@echo "== imscope read $(DEMO_CAPTURE)   (the annotated timeline: who sent what to whom, acks, warnings)"
	.build/release/imscope read $(DEMO_CAPTURE) --format text
	@echo
	@echo "== the same as JSON Lines (a file message with its im object)"
	.build/release/imscope read $(DEMO_CAPTURE) --format jsonl --filter type=file | head -n 1
	@echo
	@echo "== imscope audit Captures/replay/replay-eio4-websocket.pcap   (was every message delivered, how fast)"
	.build/release/imscope audit Captures/replay/replay-eio4-websocket.pcap
	@echo
	scripts/demo-replay.sh .build/release/imscope

## test: the whole suite: the lint (format and imports), unit tables and golden outputs (swift test), then real
## captures against tshark and fresh captures from real Socket.IO peers (pytest).
test: lint unit integration

unit:
	scripts/setup.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration:
	scripts/setup.sh test
	$(SWIFT) build
	IMSCOPE=$(CURDIR)/.build/debug/imscope $(PYTEST) -q Tests/integration

## bench: generate protocol-valid captures (10 MB, 114 MB, 1 GB; 500 connections) and measure imscope against
## tshark on them (tshark up to 200 MB: it takes minutes beyond). imscope runs with `--jobs` set to the CPUs, its
## default (`JOBS=1` for one thread); `BASELINE=PATH` runs another imscope build interleaved, side by side (before
## and after a change). Figures in Docs/performance.md.
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
# (`$(or $(SIZES),10,114,1000)` read the commas as separate arguments: `make bench` measured the 10 MB capture alone.)
SIZES ?= 10,114,1000
bench:
	scripts/setup.sh build
	$(SWIFT) build $(RELEASE) --product imscope
	$(SWIFT) build $(RELEASE) --product imscope-bench
	.build/release/imscope-bench run --sizes $(SIZES) --connections 500 --runs 3 --jobs $(JOBS) --dir .bench \
		$(if $(BASELINE),--baseline $(BASELINE))

## bench-replay: replay timing fidelity (needs root for tcpdump): each bundled replay capture replayed 5 times
## against the bundled IM server, the replayed sends' offsets against the recorded ones (python-socketio clients).
bench-replay:
	scripts/setup.sh test
	$(SWIFT) build $(RELEASE) --product imscope
	for c in Captures/replay/*.pcap; do .venv/eio4/bin/python scripts/bench-replay.py --runs 5 $$c || exit 1; done

## bench-replay-load: replay load: `imscope replay --copies N` against the same load driven by python-socketio
## clients (Captures/peers/load_clients.py), each against a fresh bundled IM server: clients held, messages, CPU
## seconds (client and server), latencies, side by side. COPIES (default 500), RAMP (s, 10), TIMEOUT (s, 120).
COPIES ?= 500
RAMP ?= 10
TIMEOUT ?= 120
bench-replay-load:
	scripts/setup.sh demo
	$(SWIFT) build $(RELEASE) --product imscope
	.venv/eio4/bin/python scripts/bench-replay-load.py --imscope .build/release/imscope --copies $(COPIES) \
		--ramp $(RAMP) --timeout $(TIMEOUT)

## captures: regenerate the bundled captures with real peers (needs root for tcpdump/dumpcap).
captures:
	scripts/setup.sh test
	Captures/make-captures.sh Captures

## lint: swift-format in strict mode (.swift-format lists every rule), and every target importing only the
## modules it declares (SwiftPM lets a dependency of a dependency through).
lint:
	$(SWIFT) format lint --recursive --strict Sources Tests Package.swift
	python3 scripts/check-imports.py

clean:
	rm -rf .build .build-*

## diagnostics-doc: regenerate Docs/diagnostics.md from the binary's catalogue.
diagnostics-doc: build
	.build/debug/imscope diagnostics --format jsonl | python3 scripts/diagnostics-doc.py > Docs/diagnostics.md
