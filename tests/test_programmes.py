"""Programmes as data: the shipped ones, a site's own, versions, bad files, attributes, outcomes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fieldkit.errors import FieldkitError
from fieldkit.records.checkins import Plan
from fieldkit.records.programmes import (
    SHIPPED,
    SHIPPED_DIR,
    SHIPPED_TEXT,
    check_attributes,
    check_outcome,
    load_programmes,
    read_programme,
)

SITE_PROGRAMME = """
id = "tb-dots"
version = 1
name = "TB treatment"
kind = "cohort"
one_active = true
only_once = false

[checkin]
interval_days = 7
max_days = 182
ruleset = "covid-home-2021"

[[outcomes]]
code = "cured"
label = "Cured"
"""


@pytest.fixture
def programmes():
    return load_programmes()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_three_shipped_programmes_load(programmes):
    assert set(programmes) == {"home-triage", "oncology-abroad", "surgical-mission"}
    triage = programmes["home-triage"]
    assert (triage.kind, triage.one_active, triage.only_once) == ("cohort", True, False)
    assert triage.checkin is not None and triage.checkin.ruleset == "covid-home-2021"
    assert triage.plan(date(2024, 3, 1)) == Plan(date(2024, 3, 1), 1, 14, 1)
    assert [o.code for o in triage.outcomes] == ["completed", "escalated", "died", "lost", "withdrew"]
    oncology = programmes["oncology-abroad"]
    assert (oncology.kind, oncology.one_active, oncology.checkin) == ("registry", True, None)
    assert [o.code for o in oncology.outcomes] == ["treated", "returned", "died", "lost", "withdrew"]
    assert {a.name: a.required for a in oncology.attributes} == {
        "destination_country": True, "cancer_site": True, "branch_office": True, "board_reference": False}
    mission = programmes["surgical-mission"]
    assert (mission.kind, mission.one_active) == ("mission", False)
    assert [a.name for a in mission.attributes] == ["team", "procedure", "mission_dates"]
    assert [o.code for o in mission.outcomes] == ["operated", "deferred", "referred", "declined"]
    assert all(programme.ref == f"{key}@1" for key, programme in programmes.items())


def test_shipped_files_are_named_by_their_id_and_every_text_is_in_the_catalogue_list(programmes):
    for name in SHIPPED:
        assert read_programme(SHIPPED_DIR / f"{name}.toml").id == name
    texts = set()
    for programme in programmes.values():
        texts |= {programme.name, *(o.label for o in programme.outcomes)}
        for attribute in programme.attributes:
            texts |= {attribute.label, *attribute.choices}
    assert texts <= set(SHIPPED_TEXT), sorted(texts - set(SHIPPED_TEXT))


def test_a_site_adds_its_own_programme(tmp_path, programmes):
    write(tmp_path / "site", "tb.toml", SITE_PROGRAMME)
    loaded = load_programmes(tmp_path / "site")
    assert set(loaded) == set(programmes) | {"tb-dots"}
    assert loaded["tb-dots"].plan(date(2024, 1, 1)) == Plan(date(2024, 1, 1), 7, 182, 1)
    assert load_programmes(tmp_path / "no such folder") == programmes


def test_the_highest_version_wins_wherever_it_comes_from(tmp_path):
    shipped = (SHIPPED_DIR / "surgical-mission.toml").read_text(encoding="utf-8")
    write(tmp_path, "mission.toml", shipped.replace("version = 1", "version = 2").replace(
        'name = "Surgical mission"', 'name = "Eye camp"'))
    assert load_programmes(tmp_path)["surgical-mission"].ref == "surgical-mission@2"
    assert load_programmes(tmp_path)["surgical-mission"].name == "Eye camp"
    write(tmp_path, "older.toml", SITE_PROGRAMME.replace("version = 1", "version = 3"))
    write(tmp_path, "tb.toml", SITE_PROGRAMME.replace("version = 1", "version = 2"))
    assert load_programmes(tmp_path)["tb-dots"].version == 3  # a lower version is passed over


def test_the_same_version_is_refused_when_it_differs_and_accepted_when_it_is_a_copy(tmp_path):
    shipped = (SHIPPED_DIR / "home-triage.toml").read_text(encoding="utf-8")
    write(tmp_path, "copy.toml", shipped)
    assert load_programmes(tmp_path)["home-triage"] == load_programmes()["home-triage"]
    write(tmp_path, "copy.toml", shipped.replace("max_days = 14", "max_days = 10"))
    with pytest.raises(FieldkitError, match="copy.toml: programme “home-triage” version 1 differs from the one in "
                                            "home-triage.toml; give the changed one a higher version"):
        load_programmes(tmp_path)


@pytest.mark.parametrize("old, new, problem", [
    ('kind = "cohort"', 'kind = "club"', "kind: Input should be"),
    ("max_days = 182", "max_days = 0", "checkin.max_days: Input should be greater than or equal to 1"),
    ('ruleset = "covid-home-2021"', 'ruleset = "nope"', "no alert rule set “nope”"),
    ("interval_days = 7", "interval_days = 7\nwindow_days = 8", "windows would overlap"),
    ('code = "cured"', 'code = "Cured!"', "outcomes.0.code"),
    ('version = 1', 'version = "one"', "version: Input should be a valid integer"),
    ('id = "tb-dots"', 'id = "tb-dots"\ncolour = "red"', "colour: Extra inputs are not permitted"),
    ('id = "tb-dots"', 'id = "tb-dots', "Illegal character"),
    ("[[outcomes]]", "[[outcomes]]\ncode = 'cured'\nlabel = 'Cured'\n[[outcomes]]", "outcome “cured” is listed twice"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_the_problem(tmp_path, old, new, problem):
    assert old in SITE_PROGRAMME
    write(tmp_path, "tb.toml", SITE_PROGRAMME.replace(old, new, 1))
    with pytest.raises(FieldkitError) as caught:
        load_programmes(tmp_path)
    message = str(caught.value)
    assert message.startswith("tb.toml: ") and problem in message and "\n" not in message


def test_attributes_are_cleaned_and_choices_matched_whatever_the_case(programmes):
    oncology = programmes["oncology-abroad"]
    values = {"branch_office": " Sana'a  north ", "destination_country": "tUNISIA", "cancer_site": "breast",
              "board_reference": ""}
    assert check_attributes(oncology, values) == {
        "destination_country": "Tunisia", "cancer_site": "breast", "branch_office": "Sana'a north"}
    assert check_attributes(oncology, {**values, "board_reference": "MB-2024-17"})["board_reference"] == "MB-2024-17"


@pytest.mark.parametrize("values, problem", [
    ({"destination_country": "Mars"}, "Destination country: “Mars” is not one of: Tunisia, Egypt, Turkey, Germany, "
                                      "Jordan, Italy, Other"),
    ({"weight": "70"}, "“weight” is not an attribute of Oncology treatment abroad"),
    ({"cancer_site": "  "}, "Cancer site is required"),
    ({"branch_office": None}, "Branch office is required"),
])
def test_attributes_refused_with_one_line(programmes, values, problem):
    good = {"destination_country": "Egypt", "cancer_site": "colon", "branch_office": "Aden"}
    with pytest.raises(FieldkitError) as caught:
        check_attributes(programmes["oncology-abroad"], {**good, **values})
    assert str(caught.value) == problem


def test_every_attribute_problem_is_reported_at_once(programmes):
    with pytest.raises(FieldkitError) as caught:
        check_attributes(programmes["surgical-mission"], {"team": "ENT"})
    assert str(caught.value) == "Procedure is required; Mission dates is required"


def test_outcomes(programmes):
    triage = programmes["home-triage"]
    assert check_outcome(triage, "died") == "died"
    assert check_outcome(triage, " Lost ") == "lost"
    assert check_outcome(triage, "lost to follow-up") == "lost"
    with pytest.raises(FieldkitError, match="“operated” is not an outcome of Home triage "
                                            r"\(one of: completed, escalated, died, lost, withdrew\)"):
        check_outcome(triage, "operated")
    assert check_outcome(programmes["surgical-mission"], "operated") == "operated"
