"""A programme manager's visit in a real browser (Debian's chromium, driven by playwright) to a hub
started as `fieldkit hub serve` with its real TLS: sign in, the laptops, a report filtered, a CSV
downloaded, Arabic, sign out. Skipped, with the reason, where chromium is missing, unless
FIELDKIT_REQUIRE_TOOLS=1 says it must be there."""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from hub_support import HUB_KEY, enrol_hub, hub_process, open_storage
from sync_support import network

from fieldkit.hub.replica import Replica, refresh
from fieldkit.records import enrolments

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery staple"
TRIPOLI, BENGHAZI = "طرابلس", "بنغازي"


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.environ.get("FIELDKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{CHROMIUM} is not installed and FIELDKIT_REQUIRE_TOOLS=1")
    pytest.skip(f"{CHROMIUM} is not installed (Debian: apt install chromium)")


def hub_with_a_clinics_work(data: Path, clinic: Path) -> str:
    """A hub enrolled in a clinic network, holding its laptop's work (three patients sent abroad from
    two branches) with the reports refreshed, and an operator made with the CLI; its database URL."""
    [laptop] = network(clinic, 1)
    for country, branch in [("Tunisia", TRIPOLI), ("Tunisia", BENGHAZI), ("Egypt", TRIPOLI)]:
        patient = laptop.clinic.register({"given_name": "Amal", "family_name": "Salem", "sex": "female"}).patient_id
        laptop.clinic.run(enrolments.enrol, {"patient_id": patient, "programme": "oncology-abroad", "attributes": {
            "destination_country": country, "cancer_site": "breast", "branch_office": branch}})
    laptop.store.sign_checkpoints(laptop.member.sign)
    batch = laptop.store.outgoing({}, 10_000)
    enrol_hub(data, laptop)
    laptop.store.close()
    url = f"sqlite:///{data / 'hub.db'}"
    storage = open_storage(url)
    try:  # handed in whole, as `fieldkit hub push` would, and folded as the running hub folds it
        storage.ingest(batch.entries, batch.checkpoints, batch.certificates)
        with Replica(data / "replica.db", HUB_KEY) as replica:
            refresh(storage, replica)
    finally:
        storage.close()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_HUB_")}
    added = subprocess.run([sys.executable, "-m", "fieldkit", "hub", "operator", "add", "amira", "--data", str(data)],
                           input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True, timeout=60,
                           env={**environment, "FIELDKIT_HUB_KEY": HUB_KEY.hex()})
    assert added.returncode == 0, added.stderr
    return url


def test_a_programme_manager_reads_a_report_in_a_browser(tmp_path, chromium):
    from playwright.sync_api import expect, sync_playwright

    url = hub_with_a_clinics_work(tmp_path / "hub", tmp_path / "clinic")
    with hub_process(tmp_path / "hub", url) as (process, _), sync_playwright() as playwright:
        # What the operator reads when the hub starts: where the pages are, and their certificate's fingerprint.
        said = re.fullmatch(r"pages for programme managers on https://127\.0\.0\.1:(\d+)/ui/ "
                            r"\(certificate SHA-256 ([0-9A-F:]{95})\)", process.stdout.readline().strip())
        assert said, "the hub did not say where its pages are"
        address = f"https://127.0.0.1:{said.group(1)}"
        served = ssl.get_server_certificate(("127.0.0.1", int(said.group(1))))
        assert hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).hexdigest() == said.group(2).replace(":", "").lower()
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            # The pages' certificate is the hub's own, which the browser does not know: the manager
            # checks its fingerprint once; here the browser is told to go on.
            context = browser.new_context(ignore_https_errors=True, accept_downloads=True, locale="en-GB")
            page = context.new_page()
            complaints: list[str] = []  # a style or script the Content-Security-Policy refused shows here
            page.on("console", lambda message: complaints.append(message.text) if message.type == "error" else None)

            page.goto(f"{address}/ui/")
            expect(page).to_have_url(f"{address}/ui/login")
            page.get_by_label("Name").fill("amira")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{address}/ui/laptops")
            expect(page.get_by_role("heading", level=1)).to_have_text("Laptops")
            expect(page.locator("table.laptops tbody tr")).to_have_count(1)

            page.get_by_role("link", name="Reports").click()
            page.get_by_role("link", name="Programme enrolments").click()
            expect(page.locator(".total")).to_have_text("3")
            page.get_by_text("More filters").click()
            page.get_by_role("textbox", name="destination_country", exact=True).fill("Tunisia")
            page.get_by_label("Count by").select_option("branch_office")
            page.get_by_role("button", name="Show").click()
            expect(page.locator(".total")).to_have_text("2")
            expect(page.locator("table.counts tbody tr")).to_have_count(2)  # one patient from each branch
            expect(page.locator("svg.chart rect.bar")).to_have_count(1)

            with page.expect_download() as downloading:
                page.get_by_role("link", name="CSV for Excel").first.click()
            saved = Path(downloading.value.path()).read_bytes()
            assert saved.startswith("\ufeff".encode())  # so that Excel reads the Arabic
            text = saved.decode("utf-8-sig")
            assert "destination_country=Tunisia" in text and TRIPOLI in text and BENGHAZI in text
            assert sum(line.startswith("01") for line in text.splitlines()) == 2

            page.get_by_role("button", name="العربية").click()
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
            expect(page.locator("html")).to_have_attribute("lang", "ar")
            expect(page.locator(".total")).to_have_text("٢")  # the page's own digits
            page.goto(f"{address}/ui/laptops")
            expect(page.get_by_role("heading", level=1)).to_have_text("الحواسيب")

            page.locator("form.sign-out button").click()
            expect(page).to_have_url(f"{address}/ui/login")
            page.goto(f"{address}/ui/reports/enrolments@1")
            expect(page).to_have_url(f"{address}/ui/login")  # signed out: refused, sent to sign in
            refused = context.request.get(f"{address}/ui/reports/enrolments@1/download?format=excel", max_redirects=0)
            assert refused.status == 303 and not refused.body().startswith("\ufeff".encode())
            assert complaints == []
        finally:
            browser.close()
