"""Alert bands: every edge of the table, the key edges written out by hand, symptoms, the version."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.errors import FieldkitError
from fieldkit.records.alerts import BANDS_FILE, SYMPTOMS, classify, load_ruleset, read_rulesets
from fieldkit.records.models import MEASURES

RULES = load_ruleset("covid-home-2021")
STEP = {name: 10.0 ** -MEASURES[name].decimals for name in RULES.bands}


def level_of(name: str, value: float) -> str:
    return classify(RULES, {name: value}, ()).level


# Generated from the table: both ends of every band take that band's level.
TABLE_EDGES = [(name, value, band.level) for name, bands in RULES.bands.items() for band in bands
               for value in (band.low, band.high)]

# Written out by hand, so that a silently changed table fails here (clinical.md B: WHO <90 red,
# 90-94 amber; RR <=20 green, >=30 red).
KEY_EDGES = [
    ("spo2", 40, "red"), ("spo2", 89, "red"), ("spo2", 90, "amber"), ("spo2", 93, "amber"), ("spo2", 94, "amber"),
    ("spo2", 95, "none"), ("spo2", 100, "none"),
    ("resp_rate", 8, "red"), ("resp_rate", 9, "none"), ("resp_rate", 20, "none"), ("resp_rate", 21, "amber"),
    ("resp_rate", 29, "amber"), ("resp_rate", 30, "red"),
    ("pulse", 40, "red"), ("pulse", 41, "amber"), ("pulse", 50, "amber"), ("pulse", 51, "none"),
    ("pulse", 110, "none"), ("pulse", 111, "amber"), ("pulse", 129, "amber"), ("pulse", 130, "red"),
    ("temperature_c", 35.0, "amber"), ("temperature_c", 35.1, "none"), ("temperature_c", 37.9, "none"),
    ("temperature_c", 38.0, "amber"), ("temperature_c", 39.4, "amber"), ("temperature_c", 39.5, "red"),
]


@pytest.mark.parametrize("name, value, expected", TABLE_EDGES)
def test_both_ends_of_every_band_in_the_table(name, value, expected):
    assert level_of(name, value) == expected


@pytest.mark.parametrize("name, value, expected", KEY_EDGES)
def test_key_edges_as_written_by_hand(name, value, expected):
    assert level_of(name, value) == expected


def test_the_table_covers_exactly_the_key_edges():
    """Every band edge in the table is one of the hand-written ones: a new edge needs a new line."""
    hand = {(name, float(value)) for name, value, _level in KEY_EDGES}
    edges = {(name, value) for name, bands in RULES.bands.items() for band in bands
             for value in (band.low, band.high) if value not in MEASURES[name].possible}
    assert edges <= hand, sorted(edges - hand)


@given(st.sampled_from(sorted(RULES.bands)), st.data())
def test_any_possible_reading_has_exactly_one_band(name, data):
    low, high = MEASURES[name].possible
    value = round(data.draw(st.floats(low, high)), MEASURES[name].decimals)
    bands = [band for band in RULES.bands[name] if band.low <= value <= band.high]
    assert len(bands) == 1
    assert level_of(name, value) == bands[0].level


def test_readings_are_rounded_half_up_before_banding():
    assert level_of("spo2", 94.5) == "none"  # 95
    assert level_of("spo2", 89.4) == "red"  # 89
    assert level_of("temperature_c", 37.95) == "amber"  # 38.0


def test_missing_readings_and_unbanded_measures_are_not_alarming():
    alert = classify(RULES, {"spo2": None, "pulse": "", "systolic_bp": 70}, ())
    assert alert.level == "none" and alert.reasons == ()


def test_impossible_readings_and_unknown_symptoms_are_refused():
    with pytest.raises(ValueError, match="not possible"):
        classify(RULES, {"spo2": 20}, ())
    with pytest.raises(ValueError, match="not a known symptom"):
        classify(RULES, {}, ["sneezing"])


@pytest.mark.parametrize("code, expected", [
    ("breathless_rest", "red"), ("chest_pain", "red"), ("confusion", "red"), ("cannot_drink", "red"),
    ("blue_lips", "red"), ("breathless_exertion", "amber"), ("fever_3_days", "amber"), ("vomiting", "amber"),
    ("diarrhoea", "amber"),
])
def test_symptoms(code, expected):
    alert = classify(RULES, {"spo2": 98}, [code])
    assert alert.level == expected
    assert alert.reasons == (f"{SYMPTOMS[code]} is {expected}",)


def test_the_highest_band_wins_and_every_reason_is_given_red_first():
    alert = classify(RULES, {"temperature_c": 38.2, "spo2": 89, "pulse": 80}, ["vomiting"])
    assert alert.level == "red"
    assert alert.reasons == ("SpO2 89 % is red (89 or less)", "Temperature 38.2 °C is amber (38.0–39.4)",
                             "Vomiting is amber")
    assert classify(RULES, {"temperature_c": 38.2, "spo2": 96}, ()).level == "amber"
    assert classify(RULES, {"spo2": 92, "pulse": 135}, ["diarrhoea", "blue_lips"]).reasons == (
        "Pulse 135 /min is red (130 or more)", "Blue lips or face is red", "SpO2 92 % is amber (90–94)",
        "Diarrhoea is amber")
    assert classify(RULES, {"pulse": 135}, ()).reasons == ("Pulse 135 /min is red (130 or more)",)


def test_the_alert_names_the_rule_set_and_its_version():
    assert classify(RULES, {}, ()).ruleset == "covid-home-2021@1"
    assert RULES.citations and any("WHO" in citation for citation in RULES.citations)


def test_an_unknown_rule_set_is_refused():
    with pytest.raises(FieldkitError, match="no alert rule set “nope”"):
        load_ruleset("nope")


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = BANDS_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "bands.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, problem", [
    ('{ level = "amber", low = 90, high = 94 }', '{ level = "amber", low = 91, high = 94 }', "should start at 90"),
    ('{ level = "red", low = 130, high = 300 }', '{ level = "red", low = 130, high = 250 }', "should end at 300"),
    ('"vomiting"', '"sneezing"', "not a symptom"),
    ('version = 1', 'version = 0', "version"),
    ('level = "red", low = 2', 'level = "purple", low = 2', "level"),
])
def test_a_table_with_a_gap_overlap_or_typo_is_refused_in_one_line(tmp_path, old, new, problem):
    with pytest.raises(FieldkitError) as caught:
        read_rulesets(_broken(tmp_path, old, new))
    message = str(caught.value)
    assert message.startswith("bands.toml: ") and problem in message and "\n" not in message
