"""T21: what fieldkit writes besides its encrypted files (sync serve's output, the hub's request
log, temporary files) holds no patient data, while a patient's record crosses the LAN and the hub."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

from campaign_support import environment_of, record
from hub_support import HUB_KEY, enrol_hub
from sync_support import network

from fieldkit.sync.forwarder import push
from fieldkit.sync.peer import sync_with

MARKERS = ["Thảo-PHI-5b8e", "زینب-PHI-2f61", "0912-660-413"]


async def test_logs_and_temporary_files_hold_no_patient_data(tmp_path, tmp_path_factory):
    here, there = await asyncio.to_thread(network, tmp_path, 2)
    await asyncio.to_thread(there.store.close)  # `fieldkit sync serve` opens it
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    private = {"TMPDIR": str(scratch), "FIELDKIT_DEBUG": "1"}  # debug on: the most a process ever says
    with open(logs / "serve.out", "w") as out, open(logs / "serve.err", "w") as err:
        serve = subprocess.Popen([sys.executable, "-m", "fieldkit", "sync", "serve", "--host", "127.0.0.1", "--port", "0"],
                                 env={**environment_of(there), **private}, stdout=subprocess.PIPE, stderr=err, text=True)
        line = serve.stdout.readline()
        out.write(line)
        port = int(re.search(r":(\d+)$", line.strip()).group(1))
        await asyncio.to_thread(here.clinic.register, {"given_name": MARKERS[0], "family_name": MARKERS[1],
                                                       "sex": "female", "phone": MARKERS[2]})
        await sync_with(here.store, here.member, "127.0.0.1", port)
        serve.terminate()
        out.write(serve.stdout.read())
        assert serve.wait(30) == 0

    enrol_hub(tmp_path / "hub", here)
    with open(logs / "hub.err", "w") as err:
        hub = subprocess.Popen([sys.executable, "-m", "fieldkit", "hub", "serve", "--data", str(tmp_path / "hub"),
                                "--host", "127.0.0.1", "--port", "0"],
                               env={**os.environ, "FIELDKIT_HUB_KEY": HUB_KEY.hex(), **private},
                               stdout=subprocess.PIPE, stderr=err, text=True)
        port = re.search(r":(\d+) \(", hub.stdout.readline()).group(1)
        await push(here.store, here.member, f"https://127.0.0.1:{port}")
        hub.terminate()
        hub.wait(30)
    here.store.close()

    written = [path for folder in (logs, scratch) for path in folder.rglob("*") if path.is_file()]
    assert (logs / "hub.err").read_text().count('"path": "/v1/') >= 2  # the request log was written
    hits = [(path.name, marker) for path in written for marker in MARKERS if marker.encode() in path.read_bytes()]
    assert hits == []
    record(tmp_path_factory, "T21 logs and temp files: marker hits", kills=0, lost=len(hits), files=len(written))
