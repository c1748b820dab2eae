#!/usr/bin/env python3
"""Every target imports only the modules it declares.

SwiftPM lets a target import a dependency of a dependency; this check does not: each `import X` in a target's
Swift files must name one of the target's own dependencies (a target of this package, or a product of a package
dependency), or a module of the system and toolchain. Reads the package with `swift package dump-package`.
Exit status 1 with one line per import not declared, 0 otherwise.
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

SYSTEM = {"Foundation", "FoundationEssentials", "FoundationXML", "Glibc", "Darwin", "Dispatch", "XCTest", "Testing", "Swift",
          "Synchronization", "_Concurrency", "os"}
IMPORT = re.compile(r"^\s*(?:@\w+\s+)*(?:(?:public|package|internal)\s+)?import\s+(?:(?:struct|class|enum|protocol|"
                    r"typealias|func|let|var)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as scratch:  # its own scratch path: never waits for a build's lock
        dump = subprocess.run(["swift", "package", "--package-path", str(root), "--scratch-path", scratch,
                               "dump-package"], check=True, capture_output=True, text=True).stdout
    package = json.loads(dump)
    own = {t["name"] for t in package["targets"]}
    problems, files = [], 0
    for target in package["targets"]:
        declared = set()
        for dep in target.get("dependencies", []):
            for kind in ("byName", "target", "product"):
                if kind in dep:
                    declared.add(dep[kind][0])
        if target["type"] == "system":
            continue
        default = "Tests" if target["type"] == "test" else "Sources"
        folder = root / (target.get("path") or f"{default}/{target['name']}")
        for source in sorted(folder.rglob("*.swift")):
            files += 1
            text = re.sub(r"//[^\n]*|/\*.*?\*/", "", source.read_text(), flags=re.S)
            for module in sorted(set(IMPORT.findall(text))):
                if module in declared or module in SYSTEM or module == target["name"]:
                    continue
                where = source.relative_to(root)
                what = "a target of this package" if module in own else "not a declared product"
                problems.append(f"{target['name']}: imports {module} ({what}), not declared ({where})")
    for line in problems:
        print(line)
    if not problems:
        print(f"check-imports: OK ({len(package['targets'])} targets, {files} Swift files)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
