"""Fails when pyproject.toml's [project].dependencies and requirements.lock no longer agree.

Names and version bounds only, without a resolver (the installer's machine has none and the check
needs nothing beyond the standard library): every dependency must be pinned in the lock at a
version its specifier allows, and every pin the lock says came from fieldkit itself must still be
a dependency. A new transitive dependency is the resolver's business: regenerate.sh finds it.

    python3 check_lock.py PYPROJECT LOCK
"""

from __future__ import annotations

import operator
import re
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lockfile import PIN, entries, normal  # stage0's own module, one folder up

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*([^;]*)")
COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
           "!=": operator.ne}
FROM_FIELDKIT = "fieldkit (pyproject.toml)"


def release(version: str) -> tuple[int, ...]:
    """The numeric release segment (3 14 6 of 3.14.6.post1): enough for the bounds pyproject uses."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def allows(specifier: str, version: str) -> bool:
    for clause in filter(None, (part.strip() for part in specifier.split(","))):
        match = re.match(r"(~=|>=|<=|==|!=|>|<)\s*(\S+)", clause)
        if not match:
            raise SystemExit(f"check_lock: cannot read the specifier {clause!r}")
        op, bound = match.groups()
        have, want = release(version), release(bound.rstrip(".*"))
        if op == "~=":
            if not (have >= want and have[:len(want) - 1] == want[:-1]):
                return False
        elif bound.endswith(".*"):
            if (have[:len(want)] == want) != (op == "=="):
                return False
        elif not COMPARE[op](have + (0,) * (len(want) - len(have)), want + (0,) * (len(have) - len(want))):
            return False
    return True


def pins(lock_text: str) -> tuple[dict[str, str], set[str]]:
    """Every pinned name with its version, and the names the lock says fieldkit asked for."""
    _header, found = entries(lock_text)
    pinned = {name: PIN.match(lines[0]).group(2) for name, lines in found.items()}  # type: ignore[union-attr]
    direct = {name for name, lines in found.items()
              if any(line.lstrip().startswith("#") and FROM_FIELDKIT in line for line in lines)}
    return pinned, direct


def problems(pyproject: Path, lock: Path) -> list[str]:
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pinned, direct = pins(lock.read_text())
    found: list[str] = []
    wanted: set[str] = set()
    for requirement in dependencies:
        match = REQUIREMENT.match(requirement)
        if not match:
            found.append(f"cannot read the dependency {requirement!r}")
            continue
        name, specifier = normal(match.group(1)), match.group(3).strip()
        wanted.add(name)
        if name not in pinned:
            found.append(f"{requirement} is a dependency but not in the lock")
        elif not allows(specifier, pinned[name]):
            found.append(f"{requirement} is a dependency but the lock pins {name}=={pinned[name]}")
    for name in sorted(direct - wanted):
        found.append(f"the lock pins {name}=={pinned[name]} for fieldkit, which no longer depends on it")
    return found


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    found = problems(Path(sys.argv[1]), Path(sys.argv[2]))
    for problem in found:
        print(f"lock out of date: {problem}", file=sys.stderr)
    if found:
        print("run deploy/usb-image/stage0-stick/00-lock/regenerate.sh and commit requirements.lock", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
