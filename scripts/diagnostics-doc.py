#!/usr/bin/env python3
"""Writes Docs/diagnostics.md from `imscope diagnostics --format jsonl` (stdin). A test keeps the two equal."""
import json
import sys

INTRO = """# Diagnostics catalogue

Every diagnostic imscope raises has a stable, layer-prefixed code (like Zeek's *weird* names). A diagnostic is a
record of its own (`kind: diagnostic`, see `jsonl-schema.md`) with `severity`, `code`, `message` and, where
known, `ts`, `frame`, `conn` and `dir`. Decoding always goes on after a diagnostic; a layer that loses sync
says so and resumes where it can. `imscope diagnostics` prints this list from the binary, and a test keeps this
page and the binary equal (regenerate it with `make diagnostics-doc`).

Severities: **info** — notable but normal; **warning** — something is wrong or was lost, decoding went on;
**error** — a protocol violation or a failure that cost data. `--strict` makes any warning or error exit 3.
"""

rows = [json.loads(line) for line in sys.stdin if line.strip()]
out = [INTRO]
layer = None
for r in rows:
    if r["layer"] != layer:
        layer = r["layer"]
        out.append(f"\n## {layer}\n\n| code | severity | meaning |\n|---|---|---|")
    out.append(f"| `{r['code']}` | {r['severity']} | {r['summary']} |")
print("\n".join(out))
