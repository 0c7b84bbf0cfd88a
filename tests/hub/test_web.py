"""The hub's pages for programme managers, through aiohttp's test client on the hub's real
application: sign-in and out, the one message for every failed sign-in, the lockout, CSRF and
Origin refusals, session expiry, the security headers, escaping, the language, the operator CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import ssl
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp
import pytest
from aiohttp import CookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hub_support import HUB_KEY, database, open_storage, running_hub
from hypothesis import given
from hypothesis import strategies as st
from sync_support import network

from fieldkit.hub import identity
from fieldkit.hub.app import create_pages_app
from fieldkit.hub.replica import Replica, refresh
from fieldkit.hub.settings import HubSettings
from fieldkit.hub.web import chart, pages
from fieldkit.hub.web.operators import Operators
from fieldkit.hub.web.sessions import ABSOLUTE, IDLE, WINDOW
from fieldkit.i18n import LANGUAGES
from fieldkit.records import enrolments
from fieldkit.sync import certs

PASSWORD = "correct horse battery"
SCRIPT = "<script>alert(1)</script>"  # what a patient's file may say, typed by anyone
TRIPOLI = "طرابلس"
# Operators made here hash cheaply; signing in through the pages redoes the hash at the hub's cost.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Browser:
    """aiohttp's test client as a browser: keeps the `__Host-` cookie (Secure: the test server is
    plain HTTP, treated as a secure origin here) and posts forms with the page's token and Origin."""

    def __init__(self, client: TestClient, origin: str) -> None:
        self.client, self.origin, self.csrf = client, origin, ""

    async def get(self, path: str, **kwargs):
        response = await self.client.get(path, allow_redirects=False, **kwargs)
        text = await response.text()
        if found := re.search(r'name="csrf" value="([^"]*)"', text):
            self.csrf = found.group(1)
        return response, text

    async def post(self, path: str, data: dict | None = None, *, csrf: str | None = None, **headers: str):
        form = {"csrf": self.csrf if csrf is None else csrf, **(data or {})}
        response = await self.client.post(path, data=form, allow_redirects=False,
                                          headers={"Origin": self.origin, **headers})
        return response, await response.text()

    async def sign_in(self, name: str = "amira", password: str = PASSWORD):
        """The sign-in form posted; on success the browser follows to the laptops page (and its token)."""
        await self.get("/ui/login")
        response, page = await self.post("/ui/login", {"name": name, "password": password})
        if response.status == 303:
            await self.get(response.headers["Location"])
        return response, page

    def cookie(self) -> str | None:
        found = [c.value for c in self.client.session.cookie_jar if c.key == pages.COOKIE]
        return found[0] if found else None


class Hub:
    def __init__(self, app: web.Application, storage, server: TestServer) -> None:
        self.app, self.storage, self.server = app, storage, server
        [self.pages] = [r.get_info()["app"] for r in app.router.resources() if isinstance(r, web.PrefixedSubAppResource)]
        self.browsers: list[TestClient] = []

    async def browser(self) -> Browser:
        jar = CookieJar(unsafe=True, treat_as_secure_origin=self.server.make_url("/"))
        client = TestClient(self.server, cookie_jar=jar)
        await client.start_server()
        self.browsers.append(client)
        return Browser(client, str(self.server.make_url("/")).rstrip("/"))

    def clock(self, at: float) -> None:
        self.pages[pages.SESSIONS].clock = self.pages[pages.THROTTLE].clock = lambda: at


async def start_hub(data: Path, url: str) -> Hub:
    storage = open_storage(url)
    settings = HubSettings.load(data, environ={}, host="127.0.0.1", port=0, database=url)
    app = create_pages_app(settings, storage)
    server = TestServer(app)
    await server.start_server()
    return Hub(app, storage, server)


@pytest.fixture
async def hub(tmp_path):
    running = await start_hub(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub.db'}")
    Operators(running.storage, CHEAP).add("amira", PASSWORD)
    yield running
    for client in running.browsers:
        await client.close()
    await running.server.close()
    running.storage.close()


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A laptop's journal, signed, as the hub receives it: three patients sent abroad from Tripoli,
    two to Tunisia, one to Egypt, each file's cancer site a script tag."""
    [laptop] = network(tmp_path_factory.mktemp("clinic"), 1)
    for n, country in enumerate(["Tunisia", "Tunisia", "Egypt"]):
        patient = laptop.clinic.register({"given_name": f"Salma{n}", "family_name": "Haddad", "sex": "female"}).patient_id
        laptop.clinic.run(enrolments.enrol, {"patient_id": patient, "programme": "oncology-abroad", "attributes": {
            "destination_country": country, "cancer_site": SCRIPT, "branch_office": TRIPOLI}})
    laptop.store.sign_checkpoints(laptop.member.sign)
    batch = laptop.store.outgoing({}, 10_000)
    laptop.store.close()
    return laptop.device, batch


@pytest.fixture
async def reported(hub, clinic, tmp_path):
    """The hub holding the clinic's entries, its reporting tables refreshed from its replica."""
    device, batch = clinic
    hub.storage.ingest(batch.entries, batch.checkpoints, batch.certificates)
    with Replica(tmp_path / "replica.db", HUB_KEY) as replica:
        refresh(hub.storage, replica)
    hub.device = device
    return hub


def session_rows(storage) -> list[tuple]:
    with storage._transaction() as cur:
        return cur.execute("SELECT token, operator FROM hub_sessions").fetchall()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_an_operator_signs_in_reads_the_laptops_and_signs_out(tmp_path, kind):
    with database(kind, tmp_path / "hub") as url:
        hub = await start_hub(tmp_path / "hub", url)
        try:
            Operators(hub.storage, CHEAP).add("amira", PASSWORD)
            hub.storage.record_contact("a" * 32, "10.0.0.5", {"a" * 32: 3})
            browser = await hub.browser()
            response, _ = await browser.get("/ui/laptops")
            assert (response.status, response.headers["Location"]) == (303, "/ui/login")

            response, page = await browser.get("/ui/login")
            cookie = response.headers["Set-Cookie"]
            assert cookie.startswith(pages.COOKIE + "=")
            assert {"HttpOnly", "Path=/", "SameSite=Strict", "Secure"} <= {part.strip() for part in cookie.split(";")}
            before = browser.cookie()

            response, _ = await browser.post("/ui/login", {"name": "amira", "password": PASSWORD})
            assert (response.status, response.headers["Location"]) == (303, "/ui/laptops")
            after = browser.cookie()
            assert after and after != before  # a new session at sign-in: a planted cookie is worth nothing
            # The store holds each token's SHA-256, never the token.
            rows = session_rows(hub.storage)
            assert (hashlib.sha256(after.encode()).hexdigest(), "amira") in rows
            assert after not in {token for token, _ in rows} and len(rows) == 1

            response, page = await browser.get("/ui/laptops")
            assert response.status == 200 and "a" * 32 in page and "10.0.0.5" in page

            response, _ = await browser.post("/ui/logout")
            assert (response.status, response.headers["Location"]) == (303, "/ui/login")
            assert browser.cookie() in (None, "")
            assert session_rows(hub.storage) == []
            # The old cookie, kept by someone, opens nothing.
            response = await browser.client.get("/ui/laptops", allow_redirects=False,
                                                headers={"Cookie": f"{pages.COOKIE}={after}"})
            assert (response.status, response.headers["Location"]) == (303, "/ui/login")
        finally:
            for client in hub.browsers:
                await client.close()
            await hub.server.close()
            hub.storage.close()


async def test_a_wrong_password_and_an_unknown_name_fail_alike(hub, caplog):
    caplog.set_level(logging.INFO, "fieldkit.hub")
    browser = await hub.browser()
    wrong, wrong_page = await browser.sign_in(password="not the password")
    unknown, unknown_page = await browser.sign_in(name="nobody")
    disabled_name = "sami"
    Operators(hub.storage, CHEAP).add(disabled_name, PASSWORD)
    Operators(hub.storage).disable(disabled_name)
    disabled, disabled_page = await browser.sign_in(name=disabled_name)
    messages = {re.search(r'role="alert">([^<]*)<', page).group(1) for page in (wrong_page, unknown_page, disabled_page)}
    assert wrong.status == unknown.status == disabled.status == 401
    assert len(messages) == 1 and "Sign-in failed" in messages.pop()
    assert browser.cookie() and all(operator is None for _, operator in session_rows(hub.storage))
    # Every failed sign-in is in the hub's log, with the name tried (ASVS 16.3.1); never a password.
    failed = [json.loads(r.message) for r in caplog.records if '"sign-in' in r.message]
    assert [(line["status"], json.loads(line["reason"])["name"]) for line in failed] == [
        (401, "amira"), (401, "nobody"), (401, "sami")]
    assert "not the password" not in caplog.text and PASSWORD not in caplog.text


async def test_five_failures_lock_a_name_out_for_fifteen_minutes(hub):
    Operators(hub.storage, CHEAP).add("sami", PASSWORD)
    hub.clock(1_000_000)
    browser = await hub.browser()
    for _ in range(5):
        response, _ = await browser.sign_in(password="a wrong guess!")
        assert response.status == 401
    response, page = await browser.sign_in()  # the right password, too late: the same message
    assert response.status == 401 and "Sign-in failed" in page
    hub.clock(1_000_000 + WINDOW + 1)
    response, _ = await browser.sign_in()
    assert response.status == 303


async def test_five_failures_from_one_address_stop_it_trying_other_names(hub):
    Operators(hub.storage, CHEAP).add("sami", PASSWORD)
    hub.clock(1_000_000)
    browser = await hub.browser()
    for guess in range(5):
        await browser.sign_in(name=f"guess{guess}")
    response, _ = await browser.sign_in(name="sami")
    assert response.status == 401


async def test_forms_without_the_sessions_token_or_from_another_origin_are_refused(hub):
    browser = await hub.browser()
    await browser.get("/ui/login")
    good = {"name": "amira", "password": PASSWORD}
    for refused in [dict(csrf=""), dict(csrf="x" * 43), dict(Origin="https://evil.example"),
                    dict(Origin="null", **{"Sec-Fetch-Site": "cross-site"}), dict(Origin="null")]:
        csrf = refused.pop("csrf", None)
        response, page = await browser.post("/ui/login", good, csrf=csrf, **refused)
        assert response.status == 403, refused
        assert "expired or came from another site" in page
    other = await hub.browser()  # another browser's token is no good either
    await other.get("/ui/login")
    response, _ = await browser.post("/ui/login", good, csrf=other.csrf)
    assert response.status == 403
    # What Chromium sends from the hub's own page under Referrer-Policy: no-referrer.
    response, _ = await browser.post("/ui/login", good, Origin="null", **{"Sec-Fetch-Site": "same-origin"})
    assert response.status == 303

    await browser.get("/ui/laptops")
    for path, form in [("/ui/logout", {}), ("/ui/language", {"language": "ar"})]:
        response, _ = await browser.post(path, form, csrf="")
        assert response.status == 403
    response, page = await browser.get("/ui/laptops")
    assert response.status == 200 and 'lang="en"' in page  # still signed in, still in English


async def test_a_session_ends_after_thirty_idle_minutes_or_twelve_hours(hub):
    start = 2_000_000
    hub.clock(start)
    browser = await hub.browser()
    await browser.sign_in()
    hub.clock(start + IDLE - 5)
    assert (await browser.get("/ui/laptops"))[0].status == 200  # activity restarts the idle time…
    hub.clock(start + 2 * IDLE - 10)
    assert (await browser.get("/ui/laptops"))[0].status == 200
    hub.clock(start + 3 * IDLE)
    assert (await browser.get("/ui/laptops"))[0].status == 303  # …and idleness ends it

    hub.clock(start)
    await browser.sign_in()
    for step in range(1, ABSOLUTE // (IDLE - 60) + 1):  # busy all day: twelve hours is the end anyway
        hub.clock(start + step * (IDLE - 60))
        response, _ = await browser.get("/ui/laptops")
        assert response.status == (200 if step * (IDLE - 60) <= ABSOLUTE else 303)
    hub.clock(start + ABSOLUTE + 1)
    assert (await browser.get("/ui/laptops"))[0].status == 303


def test_an_unknown_name_costs_a_password_check_like_a_known_one(tmp_path):
    class Counting(PasswordHasher):
        checks = 0

        def verify(self, hash, password):
            Counting.checks += 1
            return super().verify(hash, password)

    storage = open_storage(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        operators = Operators(storage, Counting(time_cost=1, memory_cost=1024, parallelism=1))
        operators.add("amira", PASSWORD)
        assert operators.verify("amira", "a wrong password") is None and Counting.checks == 1
        assert operators.verify("nobody", PASSWORD) is None and Counting.checks == 2  # checked against a dummy hash
        assert operators.verify("amira", PASSWORD).name == "amira"
    finally:
        storage.close()


async def test_the_pages_read_no_body_bigger_than_a_form(hub):
    browser = await hub.browser()
    await browser.get("/ui/login")
    response, _ = await browser.post("/ui/login", {"name": "amira", "password": "x" * (pages.FORM_LIMIT + 1)})
    assert response.status == 413
    response, _ = await browser.get("/")
    assert (response.status, response.headers["Location"]) == (303, "/ui/")


async def test_the_running_hub_serves_the_pages_on_a_port_of_their_own_with_an_ecdsa_certificate(tmp_path):
    network_key, clinic_network = certs.create_network("Test network")
    data = tmp_path / "hub"
    identity.init(data)
    identity.join(data, clinic_network, certs.enrol(network_key, clinic_network, identity.public(data)))
    url = f"sqlite:///{data / 'hub.db'}"
    async with running_hub(data, url) as hub:
        assert hub.pages_port not in (None, hub.port)
        served = await asyncio.to_thread(ssl.get_server_certificate, ("127.0.0.1", hub.pages_port))
        key = x509.load_pem_x509_certificate(served.encode()).public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)  # what browsers take, where Ed25519 is refused
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http:
            async with http.get(f"https://127.0.0.1:{hub.pages_port}/ui/login") as response:
                assert response.status == 200 and pages.COOKIE in response.headers["Set-Cookie"]
    async with running_hub(data, url, pages_port=-1) as hub:
        assert hub.pages_port is None


async def test_disabling_an_operator_ends_her_sessions(hub):
    browser = await hub.browser()
    await browser.sign_in()
    Operators(hub.storage).disable("amira")
    assert session_rows(hub.storage) == []
    assert (await browser.get("/ui/laptops"))[0].status == 303


async def test_a_hash_made_under_older_parameters_is_redone_at_sign_in(hub):
    def stored() -> str:
        with hub.storage._transaction() as cur:
            return cur.execute("SELECT hash FROM hub_operators WHERE name = 'amira'").fetchone()[0]

    assert "m=1024,t=1,p=1" in stored()
    browser = await hub.browser()
    assert (await browser.sign_in())[0].status == 303
    assert "m=65536,t=3,p=4" in stored()
    assert PasswordHasher().verify(stored(), PASSWORD)


async def test_pages_carry_the_security_headers(hub):
    browser = await hub.browser()
    await browser.sign_in()
    for path, status in [("/ui/laptops", 200), ("/ui/login", 303), ("/ui/nowhere", 404), ("/ui/static/hub.css", 200)]:
        response, _ = await browser.get(path)
        assert response.status == status, path
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    response, page = await browser.get("/ui/laptops")
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script" not in page and " style=" not in page  # nothing the policy would have to allow


async def test_the_language_is_the_operators_choice_and_arabic_reads_right_to_left(hub):
    browser = await hub.browser()
    await browser.sign_in()
    response, _ = await browser.post("/ui/language", {"language": "ar", "back": "/ui/laptops"})
    assert (response.status, response.headers["Location"]) == (303, "/ui/laptops")
    response, page = await browser.get("/ui/laptops")
    assert '<html lang="ar" dir="rtl">' in page and "<h1>الحواسيب</h1>" in page
    await browser.post("/ui/logout")
    await browser.sign_in()  # remembered for her next sign-in
    assert 'lang="ar"' in (await browser.get("/ui/laptops"))[1]
    response, _ = await browser.post("/ui/language", {"language": "fa", "back": "//evil.example/ui/"})
    assert response.headers["Location"] == "/ui/"  # never sent off the hub
    response, _ = await browser.post("/ui/language", {"language": "xx"})
    assert response.status == 400


async def test_the_sign_in_page_speaks_the_browsers_language(hub):
    browser = await hub.browser()
    _, page = await browser.get("/ui/login", headers={"Accept-Language": "de-DE, fa;q=0.9, en;q=0.8"})
    assert '<html lang="fa" dir="rtl">' in page


async def test_a_report_page_shows_its_total_counts_chart_and_a_page_of_rows(reported, monkeypatch):
    monkeypatch.setattr(pages, "PER_PAGE", 2)
    browser = await reported.browser()
    await browser.sign_in()
    response, page = await browser.get("/ui/reports")
    assert response.status == 200 and 'href="/ui/reports/enrolments@1"' in page
    response, page = await browser.get("/ui/reports/enrolments@1?by=destination_country&month=&team=")
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert '<strong class="total">3</strong> enrolments' in page  # the total, and what it counts
    assert "<code dir=\"ltr\">enrolments@1</code>" in page  # the version it ran
    assert 'Parameters</dt><dd><bdi dir="ltr">by=destination_country</bdi></dd>' in page  # empty fields filter nothing
    assert "Generated (UTC)" in page
    counts = dict(re.findall(r'<td>(\w+)</td><td class="number">(\d+)</td>', page))
    assert counts == {"Tunisia": "2", "Egypt": "1"}
    assert '<tfoot><tr><th scope="row">Total</th><td class="number">3</td>' in page  # the groups add up to it
    assert page.count('<rect class="bar"') == 1 and "<svg" in page  # this month's bar
    assert "Rows 1 to 2 of 3" in page and 'rel="next"' in page and 'rel="prev"' not in page
    first = set(re.findall(r"<tr><td>(01\w+)</td>", page))
    assert len(first) == 2  # two rows of the line list on the first page
    response, page = await browser.get("/ui/reports/enrolments@1?by=destination_country&page=2")
    assert "Rows 3 to 3 of 3" in page and 'rel="prev"' in page and 'rel="next"' not in page
    second = set(re.findall(r"<tr><td>(01\w+)</td>", page))
    assert len(second) == 1 and not second & first

    response, page = await browser.get("/ui/reports/enrolments@1?destination_country=Tunisia&by=branch_office")
    assert '<strong class="total">2</strong>' in page and f'<td>{TRIPOLI}</td><td class="number">2</td>' in page


async def test_what_a_patients_file_says_is_shown_escaped(reported):
    browser = await reported.browser()
    await browser.sign_in()
    _, page = await browser.get("/ui/reports/enrolments@1?by=cancer_site")
    assert SCRIPT not in page and "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 1 + 3  # its group, and each row's attributes
    _, page = await browser.get("/ui/reports/enrolments@1?cancer_site=" + SCRIPT.replace("<", "%3C").replace(">", "%3E"))
    assert "<script" not in page and '<strong class="total">3</strong>' in page  # a filter's value, echoed in the form


async def test_a_report_refuses_a_filter_it_does_not_have_on_the_page(reported):
    browser = await reported.browser()
    await browser.sign_in()
    response, page = await browser.get("/ui/reports/enrolments@1?month=2024-13")
    assert response.status == 400 and "give a month as YYYY-MM" in page and '<form class="filters"' in page
    assert (await browser.get("/ui/reports/no-such-report"))[0].status == 404


async def test_a_report_names_the_laptops_not_heard_from_lately(reported, monkeypatch):
    monkeypatch.setattr(reported.storage, "heard_from", lambda: {reported.device: "2020-01-02T03:04:05Z"})
    browser = await reported.browser()
    await browser.sign_in()
    _, page = await browser.get("/ui/reports/enrolments@1")
    assert 'class="warning"' in page and "include 1 laptop not heard from in 7 days or more" in page
    assert reported.device in page and "last heard of 2 Jan 2020, 03:04" in page
    _, page = await browser.get("/ui/laptops")
    assert '<tr class="stale">' in page and "Not heard from in" in page
    assert "never: its work came through another laptop" in page  # it never called: its entries were handed in


async def test_downloads_stream_the_report_as_files(reported):
    browser = await reported.browser()
    response, _ = await browser.get("/ui/reports/enrolments@1/download?format=excel")
    assert (response.status, response.headers["Location"]) == (303, "/ui/login")  # signed in only
    await browser.sign_in()
    excel = await browser.client.get("/ui/reports/enrolments@1/download?format=excel&destination_country=Tunisia")
    body = await excel.read()
    assert excel.headers["Content-Disposition"].startswith('attachment; filename="enrolments-')
    assert excel.headers["Cache-Control"] == "no-store" and "frame-ancestors 'none'" in excel.headers["Content-Security-Policy"]
    assert body.startswith("\ufeff".encode()) and TRIPOLI.encode() in body
    lines = body.decode("utf-8-sig").splitlines()
    assert "parameters,destination_country=Tunisia" in lines and sum(TRIPOLI in line for line in lines) == 2
    data = await (await browser.client.get("/ui/reports/enrolments@1/download?format=data")).read()
    assert data.startswith(b"# ") and sum(TRIPOLI in line for line in data.decode().splitlines()) == 3
    counted = await (await browser.client.get("/ui/reports/enrolments@1/download?format=data&by=destination_country")).text()
    assert counted.rstrip().splitlines()[-3:] == ["destination_country,count", "Tunisia,2", "Egypt,1"]
    xlsx = await browser.client.get("/ui/reports/enrolments@1/download?format=xlsx")
    assert (await xlsx.read()).startswith(b"PK") and xlsx.headers["Content-Type"].endswith("spreadsheetml.sheet")
    assert (await browser.get("/ui/reports/enrolments@1/download?format=pdf"))[0].status == 400


@given(st.text(max_size=80))
def test_any_accept_language_header_gives_a_language_the_hub_speaks(header):
    request = type("Request", (), {"headers": {"Accept-Language": header}})()
    assert pages.preferred(request) in LANGUAGES


@given(st.lists(st.tuples(st.text(max_size=12), st.integers(0, 10**7)), max_size=40), st.booleans())
def test_the_chart_is_well_formed_svg_whose_bars_fit_and_keep_their_order(points, rtl):
    svg = ET.fromstring(str(chart.bars(points, "Patients by month", rtl=rtl)))
    rects = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == len(points)
    heights = [float(r.get("height")) for r in rects]
    top = chart.HEIGHT - chart.TOP - chart.BOTTOM
    assert all(0 <= h <= top + 0.1 for h in heights)
    for (_, a), (_, b), ha, hb in zip(points, points[1:], heights, heights[1:]):
        assert (a < b) <= (ha <= hb)  # taller counts, taller bars
    xs = [float(r.get("x")) for r in rects]
    assert xs == sorted(xs, reverse=rtl)  # time runs the way the page reads


def hub_cli(*args: str, data: Path, given: str | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_HUB_")}
    return subprocess.run([sys.executable, "-m", "fieldkit", "hub", "operator", *args, "--data", str(data)],
                          input=given, capture_output=True, text=True, timeout=60,
                          env={**environment, "FIELDKIT_HUB_KEY": HUB_KEY.hex()})


def test_the_operator_commands_add_list_and_disable(tmp_path):
    data = tmp_path / "hub"
    data.mkdir()
    # Too short first, then two that differ: asked again each time.
    added = hub_cli("add", "amira", "--language", "fr", data=data,
                    given=f"short\nshort\n{PASSWORD}\n{PASSWORD}x\n{PASSWORD}\n{PASSWORD}\n")
    assert added.returncode == 0, added.stderr
    assert "at least 12 characters" in added.stderr and "added operator amira" in added.stdout
    again = hub_cli("add", "amira", data=data, given=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.returncode == 1 and "already an operator named amira" in again.stderr
    listed = hub_cli("list", "--json", data=data)
    assert '"name": "amira"' in listed.stdout and '"active": true' in listed.stdout and '"language": "fr"' in listed.stdout
    assert hub_cli("disable", "amira", data=data).returncode == 0
    assert '"active": false' in hub_cli("list", "--json", data=data).stdout
    missing = hub_cli("disable", "nobody", data=data)
    assert missing.returncode == 1 and "no operator named nobody" in missing.stderr
    storage = open_storage(f"sqlite:///{data / 'hub.db'}")
    try:
        assert Operators(storage).verify("amira", PASSWORD) is None  # disabled: refused even with the password
    finally:
        storage.close()
