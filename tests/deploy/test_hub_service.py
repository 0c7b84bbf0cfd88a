"""The hub as a service (deploy/hub): several `fieldkit hub serve` processes on one port and one
PostgreSQL, the PostgreSQL backup and its restore, and the systemd units, container files and
log rotation checked as far as this machine can run them.

Real components: `fieldkit hub serve` subprocesses, the real PostgreSQL on 127.0.0.1:5432, the
real pg_dump and pg_restore through deploy/hub's own scripts, `systemd-analyze verify`, logrotate.
A tool that is missing skips its test with the reason, unless FIELDKIT_REQUIRE_TOOLS=1 (CI).
"""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import aiohttp
import psycopg
import pytest
from hub_support import HUB_KEY, POSTGRES, enrol_hub, hub_process, open_storage, postgres_database
from sync_support import journal, network

from deploy.conftest import require_tool
from fieldkit.sync.forwarder import push

REPO = Path(__file__).resolve().parents[2]
HUB = REPO / "deploy" / "hub"
SYSTEMD = HUB / "systemd"


def register(laptop, count: int, prefix: str) -> None:
    for i in range(count):
        laptop.clinic.register({"given_name": f"{prefix}{i}", "family_name": laptop.name, "sex": "female"})


# -- hub processes ----------------------------------------------------------------------------------

@contextmanager
def reserved_ports(count: int) -> Iterator[list[int]]:
    """Free ports held for the test: each bound (not listening) with SO_REUSEPORT, so no other
    process's port-0 bind is given it, while our hubs, which also set SO_REUSEPORT, may join it."""
    with ExitStack() as held:
        ports = []
        for _ in range(count):
            probe = held.enter_context(socket.socket())
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
        yield ports


def requests(log: Path, path: str) -> list[dict]:
    """The request lines of `path` a hub logged."""
    found = []
    for line in log.read_text().splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and parsed.get("path") == path:
            found.append(parsed)
    return found


def insecure() -> ssl.SSLContext:
    """/health needs no certificate; the hub's own (Ed25519, the network's) is not checked here."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def health(address: str) -> dict:
    """GET /health over a connection of its own (a new source port: the kernel picks the process anew)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=insecure(), force_close=True)) as http:
        async with http.get(f"{address}/health") as response:
            assert response.status == 200
            return await response.json()


async def test_two_hub_processes_share_one_port_and_one_postgresql(tmp_path):
    a, b = await asyncio.to_thread(network, tmp_path, 2)
    await asyncio.to_thread(register, a, 150, "a")
    data = tmp_path / "hub"
    enrol_hub(data, a)
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    with postgres_database() as url, reserved_ports(2) as (port, pages):
        options = ("--port", str(port), "--pages-port", str(pages), "--reuse-port")
        # One after the other: the first start makes the pages' certificate in the data directory
        # (deploy/hub/README.md: instance 1 starts alone the first time).
        with hub_process(data, url, *options, log=logs[0]) as (_, address), hub_process(data, url, *options,
                                                                                    log=logs[1]):
            # Many connections at once: the kernel spreads them over both processes.
            answers = await asyncio.gather(*(health(address) for _ in range(60)))
            assert {answer["network"] for answer in answers} == {a.member.network.id}
            spread = [len(requests(log, "/health")) for log in logs]
            assert sum(spread) == 60 and min(spread) > 0, spread

            report = await push(a.store, a.member, address, first_batch=10, pull=False)
            total = len(await asyncio.to_thread(journal, a))
            assert report.sent == total == 151 and report.pending == 0
            stored_by = [sum(line["entries"] for line in requests(log, "/v1/batch")) for log in logs]
            assert sum(stored_by) == total  # every batch was taken by one of the two processes

            # Each process counts everything, whichever of them stored it.
            seen: dict[int, int] = {}
            for _ in range(100):
                before = [len(requests(log, "/health")) for log in logs]
                answer = await health(address)
                grew = [len(requests(log, "/health")) - n for log, n in zip(logs, before)]
                seen[grew.index(1)] = answer["entries"]
                if len(seen) == 2:
                    break
            assert seen == {0: total, 1: total}

            # A laptop that never met `a` receives a's entries through the shared port.
            pulled = await push(b.store, b.member, address)
            assert pulled.received == total
            assert await asyncio.to_thread(journal, a) <= await asyncio.to_thread(journal, b)


async def test_without_reuse_port_a_second_process_cannot_take_the_port(tmp_path):
    [a] = await asyncio.to_thread(network, tmp_path, 1)
    data = tmp_path / "hub"
    enrol_hub(data, a)
    with postgres_database() as url, hub_process(data, url, log=tmp_path / "one.log") as (_, address):
        port = address.rsplit(":", 1)[1]
        second = subprocess.run([sys.executable, "-m", "fieldkit", "hub", "serve", "--data", str(data),
                                 "--host", "127.0.0.1", "--database", url, "--port", port, "--pages-port", "-1"],
                                env={**os.environ, "FIELDKIT_HUB_KEY": HUB_KEY.hex()},
                                capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert "address already in use" in (second.stdout + second.stderr).lower()


# -- PostgreSQL backup and restore ------------------------------------------------------------------

def held(url: str) -> dict[str, list[tuple]]:
    """What a hub's database holds that a restore must give back: the journal, row for row, and
    what proves it and who called."""
    with psycopg.connect(url) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("hub_journal", "hub_heads", "hub_checkpoints", "hub_certificates", "hub_devices")}


def script(name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(HUB / name), *args], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)


def age(path: Path, days: float) -> None:
    when = time.time() - days * 86400
    os.utime(path, (when, when))


async def test_a_pg_backup_restored_into_a_new_database_serves_the_same_entries(tmp_path):
    for tool in ("pg_dump", "pg_restore", "psql"):
        require_tool(tool)
    a, b = await asyncio.to_thread(network, tmp_path, 2)
    await asyncio.to_thread(register, a, 200, "r")
    data, backups = tmp_path / "hub", tmp_path / "backups"
    enrol_hub(data, a)
    backups.mkdir()
    old, recent = backups / "fieldkit-hub-20000101T000000Z.dump", backups / "fieldkit-hub-20000102T000000Z.dump"
    old.write_text("a dump of 15 days ago")
    recent.write_text("a dump of 13 days ago")
    age(old, 15)
    age(recent, 13)
    with postgres_database() as url:
        with hub_process(data, url, "--pages-port", "-1", log=tmp_path / "hub.log") as (_, address):
            sent = await push(a.store, a.member, address)
        total = len(await asyncio.to_thread(journal, a))
        assert sent.sent == total == 201
        before = held(url)
        storage = open_storage(url)
        vector, count = storage.version_vector(), storage.count()
        storage.close()
        assert count == total and len(before["hub_journal"]) == total and before["hub_devices"]

        backup = script("pg-backup.sh", url, FIELDKIT_HUB_BACKUP_DIR=str(backups))
        assert backup.returncode == 0, backup.stderr
    dumps = sorted(backups.glob("*.dump"))
    assert old not in dumps and recent in dumps and len(dumps) == 2  # 14 days kept, older removed
    [dump] = [d for d in dumps if d != recent]
    assert re.fullmatch(r"fieldkit-hub-\d{8}T\d{6}Z\.dump", dump.name)
    assert dump.stat().st_mode & 0o077 == 0  # plaintext records: the owner's alone
    assert f"removed {old}" in backup.stdout and f"wrote {dump}" in backup.stdout

    with postgres_database() as restored:  # the original is gone: the dump is all there is
        done = script("pg-restore.sh", str(dump), restored)
        assert done.returncode == 0, done.stderr
        again = script("pg-restore.sh", str(dump), restored)
        assert again.returncode == 1 and "already holds a hub" in again.stderr
        assert held(restored) == before
        storage = open_storage(restored)
        assert (storage.version_vector(), storage.count()) == (vector, count)
        storage.close()
        with hub_process(data, restored, "--pages-port", "-1", log=tmp_path / "restored.log") as (_, address):
            assert (await health(address))["entries"] == total
            again_sent = await push(a.store, a.member, address)
            assert again_sent.sent == 0 and again_sent.pending == 0  # the restored hub knows it has it all
            pulled = await push(b.store, b.member, address)
        assert pulled.received == total  # and a laptop that never met `a` receives all of a's entries


def test_a_failed_pg_backup_leaves_no_file_and_removes_nothing(tmp_path):
    require_tool("pg_dump")
    backups = tmp_path / "backups"
    backups.mkdir()
    kept = backups / "fieldkit-hub-20000101T000000Z.dump"
    kept.write_text("an old dump")
    age(kept, 30)
    missing = POSTGRES.rsplit("/", 1)[0] + f"/no_such_{uuid.uuid4().hex[:8]}"
    failed = script("pg-backup.sh", missing, FIELDKIT_HUB_BACKUP_DIR=str(backups))
    assert failed.returncode != 0 and "does not exist" in failed.stderr
    assert sorted(backups.iterdir()) == [kept]  # no partial dump; the last good ones are never pruned
    assert script("pg-backup.sh", FIELDKIT_HUB_DATABASE="sqlite:///x.db").returncode == 2
    assert script("pg-backup.sh", missing, FIELDKIT_HUB_BACKUP_DAYS="two").returncode == 2


# -- systemd units ----------------------------------------------------------------------------------

def unit(name: str) -> configparser.RawConfigParser:
    parsed = configparser.RawConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    parsed.read(SYSTEMD / name)
    return parsed


def settings_read() -> set[str]:
    """Every environment variable `fieldkit hub` reads: --data's, and FIELDKIT_HUB_<SETTING>."""
    from fieldkit.hub.settings import HubSettings

    return {"FIELDKIT_HUB_DATA"} | {f"FIELDKIT_HUB_{name.upper()}" for name in HubSettings.model_fields}


def test_the_systemd_units_verify(tmp_path):
    """`systemd-analyze verify` on the units, with their programs pointed at this checkout's (it
    refuses a unit whose ExecStart does not exist); any warning at all fails the test."""
    require_tool("systemd-analyze")
    for path in SYSTEMD.glob("fieldkit-hub*"):
        text = path.read_text().replace("/opt/fieldkit-hub/bin/fieldkit", str(Path(sys.executable).parent / "fieldkit"))
        (tmp_path / path.name).write_text(text.replace("/usr/local/lib/fieldkit-hub/", f"{HUB}/"))
    names = ["fieldkit-hub@1.service", "fieldkit-hub@2.service", "fieldkit-hub.target", "fieldkit-hub-pgdump.service",
             "fieldkit-hub-pgdump.timer"]
    verified = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / name) for name in names)],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr
    exposure = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(tmp_path / "fieldkit-hub@.service")],
                              capture_output=True, text=True, timeout=60)
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", exposure.stdout)
    assert level and float(level.group(1)) <= 2.0, exposure.stdout[-400:]


def test_the_hub_unit_runs_the_hub_as_its_exec_start_says(tmp_path):
    """The template's ExecStart, word for word but for the paths, with the example env file and the
    unit's own environment: a hub that starts and answers; and each instance joins the others' port."""
    service = unit("fieldkit-hub@.service")["Service"]
    assert service["User"] == "fieldkit-hub" and service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/fieldkit/hub.env" and service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == service["PrivateTmp"] == "yes"
    assert "/var/lib/fieldkit-hub" in service["ReadWritePaths"].split()
    assert unit("fieldkit-hub@.service")["Install"]["WantedBy"] == "fieldkit-hub.target"
    assert unit("fieldkit-hub.target")["Install"]["WantedBy"] == "multi-user.target"
    argv = service["ExecStart"].split()
    assert argv[:3] == ["/opt/fieldkit-hub/bin/fieldkit", "hub", "serve"] and "--reuse-port" in argv
    data = Path(argv[argv.index("--data") + 1])
    assert data == Path("/var/lib/fieldkit-hub") and service["StateDirectory"] == data.name

    example = dict(line.split("=", 1) for line in (HUB / "hub.env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert set(example) <= settings_read() and example["FIELDKIT_HUB_DATABASE"].startswith("postgresql://")
    variable, value = service["Environment"].split("=", 1)
    assert variable in settings_read() and value == "%d/hub.key"  # the credential LoadCredential hands over
    assert service["LoadCredential"].split(":")[0] == "hub.key"

    [laptop] = network(tmp_path, 1)
    enrol_hub(tmp_path / "hub", laptop)
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "hub.key").write_text(HUB_KEY.hex())
    pgdump = unit("fieldkit-hub-pgdump.service")["Service"]
    with postgres_database() as url, reserved_ports(2) as (port, pages):
        env = {**os.environ, **example, "FIELDKIT_HUB_DATABASE": url, "FIELDKIT_HUB_HOST": "127.0.0.1",
               "FIELDKIT_HUB_PORT": str(port), "FIELDKIT_HUB_PAGES_PORT": str(pages),
               variable: value.replace("%d", str(tmp_path / "credentials"))}
        env.pop("FIELDKIT_HUB_KEY", None)
        command = [str(Path(sys.executable).parent / "fieldkit"), *argv[1:argv.index("--data") + 1], str(tmp_path / "hub"),
                   *argv[argv.index("--data") + 2:]]
        processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2)]
        try:
            for process in processes:
                assert process.stdout is not None
                assert f"127.0.0.1:{port} (postgresql)" in process.stdout.readline()
            checked = subprocess.run([sys.executable, str(HUB / "healthcheck.py")], env=env, capture_output=True,
                                     text=True, timeout=30)
            assert checked.returncode == 0, checked.stderr
        finally:
            for process in processes:
                process.terminate()
                _, err = process.communicate(timeout=30)
                assert process.returncode == 0, err  # SIGTERM, as systemctl stop sends: a clean stop
        assert "reports are not refreshed" not in err  # the credential's key opened the replica: no "reports are not refreshed"
        # The nightly backup, with the unit's own environment, on the same database.
        backup_env = dict(pair.split("=", 1) for pair in pgdump["Environment"].split())
        assert backup_env["FIELDKIT_HUB_BACKUP_DAYS"] == "14"
        assert pgdump["ExecStart"] == "/usr/local/lib/fieldkit-hub/pg-backup.sh"
        assert backup_env["FIELDKIT_HUB_BACKUP_DIR"] in pgdump["ReadWritePaths"].split()
        done = script("pg-backup.sh", **{**example, "FIELDKIT_HUB_DATABASE": url, **backup_env,
                                         "FIELDKIT_HUB_BACKUP_DIR": str(tmp_path / "backups")})
        assert done.returncode == 0, done.stderr
    timer = unit("fieldkit-hub-pgdump.timer")["Timer"]
    assert timer["OnCalendar"] == "*-*-* 02:30:00" and timer["Persistent"] == "true"
    stopped = subprocess.run([sys.executable, str(HUB / "healthcheck.py")], env=env, capture_output=True, text=True,
                             timeout=30)
    assert stopped.returncode == 1 and stopped.stderr.startswith("unhealthy")


def test_logrotate_copytruncate_keeps_an_appending_log_whole(tmp_path):
    """The log-to-file drop-in opens stderr O_APPEND, so after logrotate's copytruncate the next
    line lands at the start of the emptied file, not after a hole of NUL bytes."""
    require_tool("logrotate")
    dropin = unit("log-to-file/fieldkit-hub-log-file.conf")["Service"]
    assert dropin["StandardError"].startswith("append:/var/log/fieldkit-hub/")
    logs = tmp_path / "log"
    logs.mkdir()
    (tmp_path / "rotate.conf").write_text((HUB / "logrotate" / "fieldkit-hub").read_text()
                                          .replace("/var/log/fieldkit-hub", str(logs)))
    log = logs / "hub-1.log"
    with open(log, "a") as appending:  # as systemd opens it for StandardError=append:
        writer = subprocess.Popen([sys.executable, "-c", "import sys\nfor line in sys.stdin:\n"
                                   "    sys.stderr.write(line); sys.stderr.flush()"],
                                  stdin=subprocess.PIPE, stderr=appending, text=True)
    assert writer.stdin is not None
    try:
        line = '{"path": "/health", "status": 200}\n'
        writer.stdin.write(line * 50)
        writer.stdin.flush()
        deadline = time.monotonic() + 10
        while log.stat().st_size < 50 * len(line) and time.monotonic() < deadline:
            time.sleep(0.05)
        rotated = subprocess.run(["logrotate", "--force", "--state", str(tmp_path / "state"), str(tmp_path / "rotate.conf")],
                                 capture_output=True, text=True, timeout=60)
        assert rotated.returncode == 0, rotated.stderr
        assert (logs / "hub-1.log.1").read_text().count("\n") == 50 and log.stat().st_size == 0
        writer.stdin.write('{"path": "/v1/batch", "status": 200}\n')
        writer.stdin.flush()
        deadline = time.monotonic() + 10
        while log.stat().st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        writer.stdin.close()
        writer.wait(10)
    assert log.read_bytes() == b'{"path": "/v1/batch", "status": 200}\n'


def test_journald_and_logrotate_settings_parse():
    journal_conf = configparser.RawConfigParser()
    journal_conf.read(HUB / "journald" / "fieldkit-hub.conf")
    assert re.fullmatch(r"\d+[KMG]", journal_conf["Journal"]["SystemMaxUse"])
    text = (HUB / "logrotate" / "fieldkit-hub").read_text()
    assert "copytruncate" in text and "/var/log/fieldkit-hub/*.log {" in text


# -- the container (not built here: no Docker engine) -----------------------------------------------

def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", " ", (HUB / "Dockerfile").read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_dockerfile_copies_what_exists_and_runs_what_fieldkit_offers(tmp_path):
    steps = instructions()
    ignored = (HUB / "Dockerfile.dockerignore").read_text().split()
    sources = []
    for kind, rest in steps:
        if kind == "COPY" and "--from" not in rest and "${" not in rest:
            *copied, _ = rest.split()
            sources += copied
    assert {"pyproject.toml", "README.md", "fieldkit", "deploy/hub/healthcheck.py"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source
        assert source.split("/")[0] not in ignored, f"{source} is left out of the build context"
    final = [i for i, (kind, rest) in enumerate(steps) if kind == "FROM"][-1]
    last = dict(steps[final:])
    assert last["FROM"] == "python:3.11-slim" and last["USER"] == "fieldkit-hub"
    assert json.loads(last["ENTRYPOINT"]) == ["fieldkit", "hub"] and json.loads(last["CMD"]) == ["serve"]
    assert "CMD [\"python\", \"/usr/local/lib/fieldkit-hub/healthcheck.py\"]" in last["HEALTHCHECK"]
    assert "FIELDKIT_HUB_DATA=/var/lib/fieldkit-hub" in last["ENV"]
    # The build stage's sources are enough to build the package, translations and templates inside
    # (an sdist, with the setuptools at hand: a wheel would need PyPI's newer one, as the image gets).
    (tmp_path / "src").mkdir()
    shutil.copy(REPO / "pyproject.toml", tmp_path / "src")
    shutil.copy(REPO / "README.md", tmp_path / "src")
    shutil.copytree(REPO / "fieldkit", tmp_path / "src" / "fieldkit", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-c", "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))",
                            str(tmp_path / "dist")], cwd=tmp_path / "src", capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    with tarfile.open(tmp_path / "dist" / built.stdout.split()[-1]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert "fieldkit/locale/ar/LC_MESSAGES/fieldkit.mo" in names and "fieldkit/hub/app.py" in names
    assert any(name.startswith("fieldkit/hub/web/templates/") for name in names)


def test_compose_names_the_variables_the_hub_reads():
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: compose.yaml is not parsed")
    compose = yaml.safe_load((HUB / "compose.yaml").read_text())
    db, hub = compose["services"]["db"], compose["services"]["hub"]
    assert db["image"] == "postgres:15" and "pgdata" in compose["volumes"]
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert hub["depends_on"]["db"]["condition"] == "service_healthy" and "healthcheck" in db
    assert (HUB / hub["build"]["context"] / hub["build"]["dockerfile"]).resolve() == HUB / "Dockerfile"
    env = hub["environment"]
    assert set(env) <= settings_read()
    assert env["FIELDKIT_HUB_DATABASE"].startswith("postgresql://fieldkit:") and env["FIELDKIT_HUB_DATABASE"].endswith(
        f"@db:5432/{db['environment']['POSTGRES_DB']}")
    mounts = dict(volume.split(":") for volume in hub["volumes"])
    assert mounts["hubdata"] == env["FIELDKIT_HUB_DATA"]
    assert Path(env["FIELDKIT_HUB_KEY_FILE"]).parent == Path(mounts["hubkey"])  # the key off the data volume
    assert not Path(env["FIELDKIT_HUB_KEY_FILE"]).is_relative_to(env["FIELDKIT_HUB_DATA"])
    assert {f"{env['FIELDKIT_HUB_PORT']}:7400", f"{env['FIELDKIT_HUB_PAGES_PORT']}:7401"} == set(hub["ports"])


def test_every_command_the_container_and_units_give_exists():
    """`fieldkit hub` subcommands and options the Dockerfile, compose.yaml and the units use."""
    from click.testing import CliRunner

    from fieldkit.cli.hub import hub

    serve = CliRunner().invoke(hub, ["serve", "--help"]).output
    for option in ("--data", "--reuse-port", "--port", "--pages-port", "--database", "--host"):
        assert option in serve
    compose = (HUB / "compose.yaml").read_text()
    for words in re.findall(r"docker compose run --rm hub (\w+(?: \w+)?)", compose):
        assert CliRunner().invoke(hub, [*words.split()[:2 if words.startswith("key") else 1], "--help"]).exit_code == 0
