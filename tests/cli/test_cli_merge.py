"""`fieldkit patient show` tells the whole record as text, merged records included, and
`fieldkit patient unmerge` undoes a merge whenever it is found to be wrong."""

from __future__ import annotations

import json
from datetime import date, timedelta

from test_cli import PASSPHRASE, add, ok, run

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.session import unlock


def test_show_tells_the_merged_record_whole_and_unmerge_undoes_it(tmp_path):
    home = tmp_path / "clinic"
    ok(home, "init", "--supervisor", "amina")
    survivor = add(home, "--given", "فاطمة", "--family", "الحسن", "--birth-date", "1988-03-02")["id"]
    duplicate = add(home, "--given", "Fatma", "--family", "Hassan", "--birth-date", "1988-03-02",
                    "--id", "national=03010012345", "--allergy", "sulfa", "--reason", "says she never came")["id"]
    due = (date.today() + timedelta(days=3)).isoformat()
    ok(home, "encounter", "add", duplicate, "--temp", "39.2", "--pulse", "118", "--diagnosis", "J18.9:pneumonia",
       "--rx", "amoxicillin;500 mg;oral;tds;5", "--refer-to", "Idlib Central", "--follow-up", due)
    store, user = unlock(Home(home), "amina", PASSPHRASE)
    Clinic(store, user).merge(duplicate, survivor)
    store.close()

    shown = ok(home, "patient", "show", survivor).stdout
    marked = f"[from merged {duplicate}]"
    assert f"ALLERGIES: sulfa  {marked}" in shown
    assert f"merged here: {duplicate}  Fatma Hassan" in shown and "national 03010012345" in shown
    assert f"  {due}  open  -  {marked}" in shown
    assert " to Idlib Central  routine  requested" in shown
    assert "    diagnosis J18.9 pneumonia" in shown and "    prescription amoxicillin 500 mg oral tds 5 days" in shown
    found = json.loads(ok(home, "patient", "search", "03010012345", "--json").stdout)
    assert [p["id"] for p in found] == [survivor]

    assert ok(home, "patient", "unmerge", duplicate).stdout.startswith(f"{duplicate} is a record of its own again")
    assert "merged here" not in ok(home, "patient", "show", survivor).stdout
    again = run(home, "patient", "unmerge", duplicate)
    assert again.returncode != 0 and "is not merged" in again.stderr and "Traceback" not in again.stderr
