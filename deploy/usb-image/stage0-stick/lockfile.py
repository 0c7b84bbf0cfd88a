"""How requirements.lock is read (its entries: a pin, hashes, comments), for the lock's drift
check (00-lock/check_lock.py), and the two edits the wheelhouse step makes to the stick's copy.

    python3 lockfile.py split LOCK BINARY_LOCK SDIST_DIR [NAME ...]
        BINARY_LOCK: the lock without NAMEs' entries; SDIST_DIR/NAME.txt: each NAME's entry alone.
    python3 lockfile.py add-hash LOCK WHEEL
        adds WHEEL's sha256 to its project's entry, so `pip install --require-hashes` accepts the
        wheel built here from the sdist the lock pinned.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header lines, and each pinned project's lines (its pin, hashes and comments)."""
    header: list[str] = []
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            current = found.setdefault(normal(match.group(1)), [])
            current.append(line)
        elif current is not None and (line.startswith((" ", "\t")) or not line.strip()):
            current.append(line)
        else:
            header.append(line)
    return header, found


def split(lock: Path, binary: Path, folder: Path, names: list[str]) -> None:
    header, found = entries(lock.read_text())
    wanted = {normal(name) for name in names}
    unknown = wanted - found.keys()
    if unknown:
        raise SystemExit(f"lockfile: sdist-only names not in the lock: {', '.join(sorted(unknown))}")
    folder.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        (folder / f"{name}.txt").write_text("\n".join(found[name]) + "\n")
    kept = [line for name, lines in found.items() if name not in wanted for line in lines]
    binary.write_text("\n".join(header + kept) + "\n")


def add_hash(lock: Path, wheel: Path) -> None:
    header, found = entries(lock.read_text())
    name = normal(wheel.name.split("-")[0])
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    lines = found[name]
    if any(digest in line for line in lines):
        return
    last = max(i for i, line in enumerate(lines) if "--hash=" in line)
    lines[last] = lines[last].rstrip(" \\") + " \\"
    lines.insert(last + 1, f"    --hash=sha256:{digest}")
    lock.write_text("\n".join(header + [line for entry in found.values() for line in entry]) + "\n")


def main() -> None:
    command, *args = sys.argv[1:] or [""]
    if command == "split" and len(args) >= 3:
        split(Path(args[0]), Path(args[1]), Path(args[2]), args[3:])
    elif command == "add-hash" and len(args) == 2:
        add_hash(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
