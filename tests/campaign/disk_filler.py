"""Records encounters for one patient through the `fieldkit` command line (run in this process, one
command per save), and when a save fails, frees the disk and saves the same encounter again.

    python disk_filler.py PATIENT_ID COUNT   (FIELDKIT_HOME, FIELDKIT_USER, FIELDKIT_PASSPHRASE; IOLOG_* for the shim)

The shim (shim/iolog.c) fills the disk at its IOLOG_ENOSPC_AT-th write by creating IOLOG_FULL_FLAG;
deleting that file frees the space. Prints one JSON line per failed save: the encounter's number,
the exit status, what the command printed on stderr, and whether the retry after freeing space
succeeded; each encounter carries its number in its notes ("save-N") so the test can count them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

from fieldkit.cli import run

patient, count = sys.argv[1], int(sys.argv[2])
flag = os.environ.get("IOLOG_FULL_FLAG", "")


def save(number: int) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = run(["encounter", "add", patient, "--temp", "37.2", "--pulse", str(60 + number), "--rr", "16",
                      "--sbp", "120", "--spo2", "97", "--notes", f"save-{number}"])
    return status, err.getvalue()


for number in range(count):
    status, said = save(number)
    if status == 0:
        continue
    full = bool(flag) and os.path.exists(flag)
    if full:
        os.unlink(flag)  # space is freed
    again, said_again = save(number)
    print(json.dumps({"save": number, "status": status, "stderr": said, "full": full, "retry": again,
                      "retry_stderr": said_again}), flush=True)
