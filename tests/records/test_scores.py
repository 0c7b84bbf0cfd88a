"""NEWS2 and qSOFA: every band edge of every parameter, the risk bands, partial scores."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.records.models import Vitals
from fieldkit.records.scores import news2, qsofa

NORMAL = {"resp_rate": 16, "spo2": 98, "systolic_bp": 120, "pulse": 70, "temperature_c": 37.0, "avpu": "A"}

# (parameter, reading, points): both sides of every edge in RCP NEWS2 chart 1.
EDGES = [
    ("resp_rate", 8, 3), ("resp_rate", 9, 1), ("resp_rate", 11, 1), ("resp_rate", 12, 0),
    ("resp_rate", 20, 0), ("resp_rate", 21, 2), ("resp_rate", 24, 2), ("resp_rate", 25, 3),
    ("spo2", 91, 3), ("spo2", 92, 2), ("spo2", 93, 2), ("spo2", 94, 1), ("spo2", 95, 1), ("spo2", 96, 0),
    ("spo2", 100, 0),
    ("systolic_bp", 90, 3), ("systolic_bp", 91, 2), ("systolic_bp", 100, 2), ("systolic_bp", 101, 1),
    ("systolic_bp", 110, 1), ("systolic_bp", 111, 0), ("systolic_bp", 219, 0), ("systolic_bp", 220, 3),
    ("pulse", 40, 3), ("pulse", 41, 1), ("pulse", 50, 1), ("pulse", 51, 0), ("pulse", 90, 0),
    ("pulse", 91, 1), ("pulse", 110, 1), ("pulse", 111, 2), ("pulse", 130, 2), ("pulse", 131, 3),
    ("temperature_c", 35.0, 3), ("temperature_c", 35.1, 1), ("temperature_c", 36.0, 1),
    ("temperature_c", 36.1, 0), ("temperature_c", 38.0, 0), ("temperature_c", 38.1, 1),
    ("temperature_c", 39.0, 1), ("temperature_c", 39.1, 2),
]

# SpO2 scale 2 (hypercapnic target 88-92%): (reading, on oxygen, points).
SCALE2 = [
    (83, False, 3), (84, False, 2), (85, False, 2), (86, False, 1), (87, False, 1), (88, False, 0),
    (92, False, 0), (93, False, 0), (97, False, 0), (100, False, 0),
    (83, True, 3), (88, True, 0), (92, True, 0), (93, True, 1), (94, True, 1), (95, True, 2),
    (96, True, 2), (97, True, 3),
]


@pytest.mark.parametrize("name, reading, expected", EDGES)
def test_news2_band_edges(name, reading, expected):
    score = news2({**NORMAL, name: reading})
    assert score.parts[name] == expected
    assert score.total == expected and score.complete


@pytest.mark.parametrize("reading, oxygen, expected", SCALE2)
def test_news2_spo2_scale_2(reading, oxygen, expected):
    score = news2({**NORMAL, "spo2": reading, "on_oxygen": oxygen}, hypercapnic=True)
    assert score.parts["spo2"] == expected
    assert "scale 2" in score.version


def test_scale_1_is_the_default_even_on_oxygen():
    score = news2({**NORMAL, "spo2": 93, "on_oxygen": True})
    assert (score.parts["spo2"], score.parts["oxygen"], score.total) == (2, 2, 4)


@pytest.mark.parametrize("avpu, expected", [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_news2_consciousness(avpu, expected):
    assert news2({**NORMAL, "avpu": avpu}).parts["avpu"] == expected


def test_news2_oxygen_scores_two():
    assert news2({**NORMAL, "on_oxygen": True}).parts["oxygen"] == 2
    assert news2(NORMAL).parts["oxygen"] == 0


@pytest.mark.parametrize("readings, total, band", [
    ({}, 0, "low"),
    ({"pulse": 95, "temperature_c": 38.5}, 2, "low"),
    ({"resp_rate": 22, "pulse": 95, "temperature_c": 38.5}, 4, "low"),
    ({"resp_rate": 25}, 3, "low-medium"),  # a 3 in one parameter, total under 5
    ({"resp_rate": 22, "pulse": 95, "temperature_c": 38.5, "spo2": 95}, 5, "medium"),
    ({"resp_rate": 22, "pulse": 115, "temperature_c": 38.5, "spo2": 95}, 6, "medium"),
    ({"resp_rate": 25, "pulse": 115, "spo2": 95, "temperature_c": 38.5}, 7, "high"),
    ({"resp_rate": 25, "pulse": 135, "spo2": 90, "systolic_bp": 85, "temperature_c": 34, "avpu": "U",
      "on_oxygen": True}, 20, "high"),
])
def test_news2_risk_bands(readings, total, band):
    score = news2({**NORMAL, **readings})
    assert (score.total, score.band) == (total, band)
    assert str(total) in score.summary and band in score.summary and score.response


def test_news2_readings_round_to_the_chart_precision():
    assert news2({**NORMAL, "pulse": 90.5}).parts["pulse"] == 1  # half up: 91
    assert news2({**NORMAL, "pulse": 90.4}).parts["pulse"] == 0
    assert news2({**NORMAL, "temperature_c": 35.05}).parts["temperature_c"] == 1  # 35.1


def test_partial_news2_says_what_is_missing_and_is_never_low():
    score = news2({"pulse": 80})
    assert not score.complete and set(score.missing) == {"resp_rate", "spo2", "systolic_bp", "temperature_c", "avpu"}
    assert score.band == "incomplete" and "missing" in score.summary
    alarming = news2({"pulse": 135, "resp_rate": 26, "spo2": 90})
    assert not alarming.complete and alarming.band == "high"  # the floor is already high


@pytest.mark.parametrize("readings, total, band", [
    ({"resp_rate": 21, "systolic_bp": 101, "avpu": "A"}, 0, "low"),
    ({"resp_rate": 22, "systolic_bp": 101, "avpu": "A"}, 1, "low"),
    ({"resp_rate": 21, "systolic_bp": 100, "avpu": "A"}, 1, "low"),
    ({"resp_rate": 21, "systolic_bp": 101, "avpu": "C"}, 1, "low"),
    ({"resp_rate": 22, "systolic_bp": 100, "avpu": "A"}, 2, "high"),
    ({"resp_rate": 30, "systolic_bp": 80, "avpu": "V"}, 3, "high"),
    ({"resp_rate": 22, "systolic_bp": 100}, 2, "high"),  # high already, mentation unknown
    ({"resp_rate": 22}, 1, "incomplete"),  # one more point would make it high
    ({"resp_rate": 12}, 0, "incomplete"),
    ({"resp_rate": 12, "systolic_bp": 120}, 0, "low"),  # the missing one cannot reach 2
])
def test_qsofa(readings, total, band):
    score = qsofa(readings)
    assert (score.total, score.band) == (total, band)
    assert score.version.startswith("qSOFA")


reading = {
    "resp_rate": st.integers(2, 100), "spo2": st.integers(40, 100), "systolic_bp": st.integers(40, 300),
    "pulse": st.integers(20, 300), "temperature_c": st.decimals(25, 45, places=1).map(float),
    "avpu": st.sampled_from("ACVPU"), "on_oxygen": st.booleans(),
}


@given(st.fixed_dictionaries({}, optional=reading), st.booleans())
def test_news2_total_is_the_sum_and_more_readings_never_lower_it(vitals, hypercapnic):
    score = news2(vitals, hypercapnic=hypercapnic)
    assert score.total == sum(score.parts.values())
    assert all(0 <= p <= 3 for p in score.parts.values())
    for name in vitals:
        fewer = news2({k: v for k, v in vitals.items() if k != name}, hypercapnic=hypercapnic)
        assert fewer.total <= score.total
    if score.complete:
        expected = "high" if score.total >= 7 else "medium" if score.total >= 5 else \
            "low-medium" if 3 in score.parts.values() else "low"
        assert score.band == expected


@given(st.fixed_dictionaries(reading))
def test_scores_accept_validated_vitals_and_dicts_alike(vitals):
    assert news2(Vitals.model_validate(vitals)) == news2(vitals)
    assert qsofa(Vitals.model_validate(vitals)) == qsofa(vitals)


def test_news2_gives_children_no_adult_risk_band():
    infant = {**NORMAL, "resp_rate": 38, "pulse": 130}  # normal at one year old
    assert news2(infant).band == "medium"
    child = news2(infant, age_years=1)
    assert child.band == "under 16" and "paediatric" in child.response and child.total == 5
    assert news2(infant, age_years=16).band == "medium"


def test_a_scores_missing_readings_are_named_in_the_readers_language():
    from fieldkit.i18n import set_language

    set_language("ar")
    try:
        summary = news2(Vitals(temperature_c=37, pulse=80)).summary
    finally:
        set_language("en")
    assert "avpu" not in summary and "resp_rate" not in summary and "الوعي" in summary, summary
