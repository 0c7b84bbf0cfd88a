"""At 80 columns every language's words fit where they are drawn: the search box's hint, the
lists' column headers and the status bar's count of entries waiting for the hub are never cut
(issue 16, point 10). Checked on what is drawn, in each language the kit is translated into."""

from __future__ import annotations

import asyncio

import pytest
from tui_support import drawn_rows, screen, sign_in, until

from fieldkit.i18n import _, set_language
from fieldkit.store.keystore import Keystore
from fieldkit.tui.app import FieldkitApp


@pytest.mark.parametrize("language", ["ar", "fa", "vi", "fr", "en"])
async def test_the_home_screen_fits_in_80_columns(home, language):
    await asyncio.to_thread(Keystore(home.keystore).set_language, "amina", language)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await until(pilot, lambda: screen(app) == "HomeScreen")
        await pilot.pause(0.3)
        text = "\n".join(drawn_rows(app))
        set_language(language)
        wanted = [_("Find a patient: any part of a name, any script, an id or a phone"), _("Name"), _("Sex/born"),
                  _("Locality"), _("{pending} pending").format(pending=""),
                  # the footer's keys: the last one is the first a long language pushes off the edge
                  _("Register"), _("Referrals"), _("Conflicts"), _("Sync"), _("Lock")]
        cut = [words for words in wanted if words.strip() not in text]
        assert cut == [], text
        await pilot.press("f4")  # registration: its longest label
        await until(pilot, lambda: screen(app) == "RegisterScreen")
        await pilot.pause(0.3)
        text = "\n".join(drawn_rows(app))
        assert _("Allergies, comma-separated") in text, text
