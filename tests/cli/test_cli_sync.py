"""`fieldkit network …` and `fieldkit sync …` as a supervisor types them: real processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from test_cli import PASSPHRASE, run


def init(home, name):
    result = run(home, "init", "--supervisor", name)
    assert result.returncode == 0, result.stderr
    return re.search(r"device ([0-9a-f]{32})", result.stdout).group(1)


def serve(home, *options: str, passphrase: str = PASSPHRASE) -> tuple[subprocess.Popen, str]:
    """`fieldkit [options] sync serve` on a port the system picks, and the address it says it serves on."""
    server = subprocess.Popen([sys.executable, "-m", "fieldkit", *options, "sync", "serve", "--host", "127.0.0.1",
                               "--port", "0"], env={**_env(home), "FIELDKIT_PASSPHRASE": passphrase},
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    assert "serving network" in line, line
    assert server.stdout.readline() == "advertised on 127.0.0.1\n"  # only where it listens
    return server, re.search(r" on (\S+:\d+)$", line.strip()).group(1)


def test_create_enrol_join_sync_status_and_revoke(tmp_path):
    base, field = tmp_path / "base", tmp_path / "field"
    init(base, "amina")
    field_device = init(field, "binh")
    created = run(base, "network", "create", "Soc Trang mobile clinics")
    assert created.returncode == 0 and "holds its key" in created.stdout

    offer = subprocess.Popen([sys.executable, "-m", "fieldkit", "network", "enrol", "--port", "0"],
                             env=_env(base), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown = offer.stdout.readline() + offer.stdout.readline()
    code = re.search(r"code (\d{3}-\d{3})", shown).group(1)
    port = re.search(r":(\d+)\b", shown.splitlines()[1]).group(1)
    joined = run(field, "network", "join", code, f"127.0.0.1:{port}")
    assert joined.returncode == 0, joined.stderr
    assert "joined network Soc Trang mobile clinics" in joined.stdout
    assert offer.wait(timeout=30) == 0 and field_device in offer.stdout.read()

    assert run(field, "patient", "add", "--given", "Lan", "--family", "Nguyen", "--sex", "female").returncode == 0
    server, address = serve(base)
    try:
        now = run(field, "sync", "now", address, "--json")
        assert now.returncode == 0, now.stderr
        [session] = json.loads(now.stdout)
        assert session["received"] >= 1 and session["sent"] >= 2  # its user, its patient
    finally:
        server.terminate()
        server.wait(timeout=30)
    status = json.loads(run(field, "sync", "status", "--json").stdout)
    [peer] = status["peers"]
    assert peer["they_lack"] == 0 and peer["we_lack"] == 0 and peer["last_sync"]
    found = json.loads(run(base, "patient", "search", "Lan", "--json").stdout)
    assert [p["family_name"] for p in found] == ["Nguyen"]

    revoked = run(base, "network", "revoke", field_device[:8], "--reason", "stolen")
    assert revoked.returncode == 0, revoked.stderr
    shown = json.loads(run(base, "network", "show", "--json").stdout)
    assert shown["revoked"] == [field_device]
    server, address = serve(base)
    try:
        refused = run(field, "sync", "now", address)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert refused.returncode == 1
    assert "revoked" in refused.stdout + refused.stderr


def test_a_clerk_and_a_laptop_in_no_network_are_refused_in_one_line(tmp_path):
    base = tmp_path / "base"
    init(base, "amina")
    run(base, "user", "add", "chi", "--role", "clerk", input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    refused = run(base, "--user", "chi", "network", "create", "x")
    assert refused.returncode == 1 and "only a supervisor" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    missing = run(base, "--user", "amina", "sync", "status")
    assert missing.returncode == 1 and "in no network yet" in missing.stderr


def _env(home):
    import os

    return {**os.environ, "FIELDKIT_HOME": str(home), "FIELDKIT_PASSPHRASE": PASSPHRASE}


def test_joining_with_the_link_a_qr_scanner_types(tmp_path):
    base, field = tmp_path / "base", tmp_path / "field"
    init(base, "amina")
    field_device = init(field, "binh")
    assert run(base, "network", "create", "Soc Trang mobile clinics").returncode == 0
    offer = subprocess.Popen([sys.executable, "-m", "fieldkit", "network", "enrol", "--port", "0"],
                             env=_env(base), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown = offer.stdout.readline() + offer.stdout.readline()
    code = re.search(r"code (\d{3}-\d{3})", shown).group(1)
    port = re.search(r":(\d+)\b", shown.splitlines()[1]).group(1)

    for broken in ("fieldkit:join?code=12&at=127.0.0.1:1", "fieldkit:join?code=123456"):
        refused = run(field, "network", "join", broken)
        assert refused.returncode == 1 and "not a join link" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    nowhere = run(field, "network", "join", f"fieldkit:join?code={code.replace('-', '')}&at=127.0.0.1:9")
    assert nowhere.returncode == 1 and "no enrolment offer answers at 127.0.0.1:9" in nowhere.stderr

    # The first address (another interface of the supervisor's laptop) does not answer; the second does.
    link = f"fieldkit:join?code={code.replace('-', '')}&at=127.0.0.1:9,127.0.0.1:{port}"
    joined = run(field, "network", "join", link)
    assert joined.returncode == 0, joined.stderr
    assert "joined network Soc Trang mobile clinics" in joined.stdout
    assert offer.wait(timeout=30) == 0 and field_device in offer.stdout.read()


def test_sync_serve_says_in_one_line_whom_it_refused_and_why(tmp_path):
    import socket

    base = tmp_path / "base"
    init(base, "amina")
    assert run(base, "network", "create", "Soc Trang mobile clinics").returncode == 0
    server, address = serve(base)
    try:
        with socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1]))) as stray:
            stray.sendall(b"GET / HTTP/1.1\r\nHost: fieldkit\r\n\r\n")
            line = server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert re.fullmatch(r"\d\d:\d\d:\d\d \?: error: 127\.0\.0\.1:\d+: refused: it speaks plain HTTP, not TLS", line), line
