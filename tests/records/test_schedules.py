"""Vaccine schedules as data and their derivation (reference/clinical.md C), without a database:
the shipped tables' codes, the hepatitis B staff series and the childhood schedule on fixed dates,
and the properties that make a derivation trustworthy, checked by hypothesis."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.errors import FieldkitError
from fieldkit.records import schedules, site, vaccines
from fieldkit.records.schedules import (
    BELOW_INTERVAL,
    COMPLETE,
    DUE,
    NOT_DUE_YET,
    OVERDUE,
    TOO_EARLY,
    TOO_LATE,
    HeldDose,
    after,
    derive,
    next_doses,
)

BORN = date(1990, 3, 15)
HEPB = "hepb-adult"
STATUSES = ("given", "not-given", "historical", "entered-in-error")


def hepb() -> schedules.Schedule:
    return schedules.schedule("hepb-staff")


def doses(*days: date, vaccine: str = HEPB) -> list[HeldDose]:
    return [HeldDose(f"d{n}", vaccine, on) for n, on in enumerate(days)]


def by_number(states, series: str = "hepb", round_number: int = 1):
    return {s.number: s for s in states if s.series == series and s.round == round_number}


# -- the tables --------------------------------------------------------------------------------

def test_the_vaccine_table_pins_its_codes_and_one_prequal_spelling():
    table = vaccines.vaccines()
    assert (table[HEPB].icd11, table[HEPB].atc) == ("XM9V38", "J07BC01")
    # One spelling of the PreQual system everywhere (WHO's repositories also write "…IDs").
    assert vaccines.PREQUAL_SYSTEM == "http://smart.who.int/pcmt-vaxprequal/CodeSystem/PreQualProductIds"
    assert {code: v.atc for code, v in table.items() if code != HEPB} == {
        "bcg": "J07AN01", "bopv": "J07BF04", "ipv": "J07BF03", "penta": "J07CA11", "pcv": "J07AL02",
        "rota": "J07BH01", "mr": "J07BD53"}
    assert all(v.icd11.startswith("XM") and v.route and v.site and v.dose_quantity for v in table.values())
    assert "hepatitis B" in table["penta"].target_disease


def test_the_shipped_words_are_in_the_catalogue_list():
    """Names shown to staff are translated: each shipped one is marked for the extractor."""
    table = tomllib.loads((schedules.SHIPPED_DIR.parent / "vaccines.toml").read_text())
    assert {row["name"] for row in table["vaccine"]} <= set(vaccines.SHIPPED_TEXT)
    for chosen in schedules.schedules().values():
        words = {chosen.name, *(s.name for s in chosen.series)}
        words |= {w for s in chosen.series if s.test for w in (s.test.name, s.test.low_first, s.test.low_again)}
        assert words <= set(schedules.SHIPPED_TEXT), words - set(schedules.SHIPPED_TEXT)


def test_a_site_adds_a_vaccine_and_raises_a_schedules_version(tmp_path):
    (tmp_path / "vaccines.toml").write_text('[[vaccine]]\ncode = "typhoid"\nname = "Typhoid conjugate"\n'
                                            'atc = "J07AP03"\ntarget_disease = ["typhoid"]\n')
    folder = tmp_path / "schedules"
    folder.mkdir()
    shipped = (schedules.SHIPPED_DIR / "hepb-staff.toml").read_text()
    (folder / "hepb.toml").write_text(shipped.replace("version = 1", "version = 2").replace('"5m"', '"11m"'))
    site.use(tmp_path)
    try:
        assert "typhoid" in vaccines.vaccines() and HEPB in vaccines.vaccines()
        assert hepb().ref == "hepb-staff@2" and hepb().series[0].doses[2].recommended_interval == "11m"
        (folder / "hepb.toml").write_text(shipped.replace('"5m"', '"11m"'))  # same version, different table
        site.use(tmp_path)
        with pytest.raises(FieldkitError, match="give the changed one a higher version"):
            schedules.schedules()
    finally:
        site.use(None)
    assert hepb().ref == "hepb-staff@1"


def test_a_bad_schedule_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('id = "x"\nversion = 1\nname = "X"\n[[series]]\nid = "a"\nname = "A"\nvaccines = ["nope"]\n'
                    '[[series.doses]]\nmin_age = "6 weeks"\n')
    with pytest.raises(FieldkitError) as refused:
        schedules.read_schedule(path)
    assert str(refused.value).startswith("bad.toml: series.0") and "\n" not in str(refused.value)


def test_months_are_counted_by_the_calendar():
    assert after(date(2026, 1, 31), "1m") == date(2026, 2, 28)
    assert after(date(2026, 8, 31), "6m") == date(2027, 2, 28)
    assert after(date(2024, 2, 29), "1y") == date(2025, 2, 28)
    assert schedules.before(date(2026, 3, 31), "1m") == date(2026, 2, 28)
    assert after(date(2026, 1, 1), "16w") == date(2026, 4, 23)


# -- hepatitis B for staff ----------------------------------------------------------------------

def test_dose_two_at_three_weeks_is_flagged_and_dose_three_follows_the_doses_given():
    """clinical.md C test 1: the early dose counts and stays flagged; later dates follow it."""
    first = date(2026, 1, 5)
    early = first + timedelta(weeks=3)
    states = by_number(derive(hepb(), BORN, doses(first, early), date(2026, 3, 1)))
    assert states[2].state == COMPLETE and states[2].flags == (BELOW_INTERVAL,)
    assert states[2].earliest == first + timedelta(weeks=4)
    assert states[3].earliest == first + timedelta(weeks=16)  # 16 weeks after dose 1 is later than 8 after dose 2
    assert states[3].due == after(early, "5m")  # from dose 2 as given, not from the plan
    assert states[3].state == TOO_EARLY
    late = first + timedelta(days=100)  # dose 2 three months late: dose 3 moves with it
    states = by_number(derive(hepb(), BORN, doses(first, late), late + timedelta(weeks=9)))
    assert states[2].flags == () and states[3].earliest == late + timedelta(weeks=8)
    assert states[3].due == after(late, "5m") and states[3].state == NOT_DUE_YET


def test_an_interrupted_series_continues_and_never_restarts():
    first, second = date(2019, 6, 1), date(2024, 9, 10)
    states = by_number(derive(hepb(), BORN, doses(first, second), date(2026, 6, 1)))
    assert [states[n].state for n in (1, 2, 3)] == [COMPLETE, COMPLETE, OVERDUE]
    assert states[1].given == first and states[2].given == second and states[3].due == after(second, "5m")
    assert states[3].earliest == second + timedelta(weeks=8)
    assert states[3].days_overdue == (date(2026, 6, 1) - after(second, "5m")).days


def test_a_first_dose_with_no_recommended_age_is_due_and_never_overdue():
    [state] = next_doses(derive(hepb(), BORN, [], date(2026, 6, 1)))
    assert (state.number, state.state, state.due) == (1, DUE, None)


def test_not_given_and_entered_in_error_leave_the_calculation():
    first = date(2026, 1, 5)
    kept = doses(first)
    noise = [HeldDose("x1", HEPB, first + timedelta(weeks=5), "not-given"),
             HeldDose("x2", HEPB, first + timedelta(weeks=6), "entered-in-error"),
             HeldDose("x3", HEPB, first + timedelta(weeks=7), "historical", primary_source=True)]  # a superseded not-given
    today = date(2026, 4, 1)
    assert derive(hepb(), BORN, kept + noise, today) == derive(hepb(), BORN, kept, today)
    elsewhere = HeldDose("x4", HEPB, first + timedelta(weeks=7), "historical", primary_source=False)
    assert by_number(derive(hepb(), BORN, [*kept, elsewhere], today))[2].dose_id == "x4"


def test_a_restart_after_a_failed_test_is_round_two_due_at_once():
    first = date(2025, 1, 6)
    held = doses(first, first + timedelta(weeks=5), first + timedelta(weeks=26))
    failed = first + timedelta(weeks=32)
    states = derive(hepb(), BORN, [*held, HeldDose("r1", HEPB, failed + timedelta(days=3))], failed + timedelta(days=40),
                    restarts={"hepb": failed})
    assert all(s.state == COMPLETE for s in by_number(states).values())
    second = by_number(states, round_number=2)
    assert second[1].given == failed + timedelta(days=3) and second[1].due == failed
    assert second[2].state == DUE and second[2].earliest == failed + timedelta(days=3, weeks=4)


def test_a_typed_dose_number_that_disagrees_is_kept_and_shown():
    first = date(2026, 1, 5)
    states = by_number(derive(hepb(), BORN, [HeldDose("a", HEPB, first, number=2)], date(2026, 2, 1)))
    assert states[1].dose_id == "a" and states[1].recorded_number == 2


# -- the childhood schedule on fixed dates ------------------------------------------------------

CHILD = date(2026, 1, 1)


def child(today: date, *held: HeldDose) -> dict[tuple[str, int], str]:
    return {(s.series, s.number): s.state for s in derive(schedules.schedule("childhood-epi"), CHILD, held, today)}


def test_the_childhood_schedule_at_birth_five_weeks_seven_weeks_and_eleven_weeks():
    birth_doses = (HeldDose("b", "bcg", CHILD), HeldDose("o", "bopv", CHILD))
    at = child(CHILD, *birth_doses)
    assert at[("bcg", 1)] == at[("opv0", 1)] == COMPLETE and at[("penta", 1)] == TOO_EARLY
    five = child(CHILD + timedelta(weeks=5), *birth_doses)
    assert five[("penta", 1)] == five[("opv", 1)] == five[("rota", 1)] == TOO_EARLY
    seven = child(CHILD + timedelta(weeks=7), *birth_doses)
    assert seven[("penta", 1)] == seven[("pcv", 1)] == seven[("opv", 1)] == DUE
    assert seven[("ipv", 1)] == NOT_DUE_YET  # eligible from 6 weeks, recommended at 14
    assert seven[("penta", 2)] == TOO_EARLY and seven[("mr", 1)] == TOO_EARLY
    eleven = child(CHILD + timedelta(weeks=11), *birth_doses)
    assert eleven[("penta", 1)] == OVERDUE  # more than 4 weeks past 6 weeks
    # The bOPV at six weeks is OPV 1, not a late birth dose; a birth dose missed is too late.
    late = child(CHILD + timedelta(weeks=7), HeldDose("o1", "bopv", CHILD + timedelta(weeks=6)))
    assert late[("opv0", 1)] == TOO_LATE and late[("opv", 1)] == COMPLETE and late[("opv", 2)] == TOO_EARLY


def test_a_late_first_pentavalent_moves_the_second():
    given_at = CHILD + timedelta(weeks=12)
    states = {(s.series, s.number): s for s in derive(schedules.schedule("childhood-epi"), CHILD,
                                                       [HeldDose("p1", "penta", given_at)], CHILD + timedelta(weeks=15))}
    assert states[("penta", 2)].due == states[("penta", 2)].earliest == given_at + timedelta(weeks=4)  # not at 10 weeks
    assert states[("penta", 2)].state == TOO_EARLY


# -- properties ---------------------------------------------------------------------------------

@st.composite
def histories(draw, vaccine_codes=(HEPB,)):
    """Doses of random vaccines, gaps and statuses from a day in 2020, and a later today."""
    start = date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 2000)))
    count = draw(st.integers(0, 7))
    day, held = start, []
    for n in range(count):
        day += timedelta(days=draw(st.integers(0, 400)))
        held.append(HeldDose(f"d{n}", draw(st.sampled_from(vaccine_codes)), day, draw(st.sampled_from(STATUSES)),
                             draw(st.booleans())))
    return held, day + timedelta(days=draw(st.integers(0, 900)))


CHILD_VACCINES = ("bcg", "bopv", "penta", "pcv", "rota", "ipv", "mr")


@given(histories())
def test_the_series_never_restarts(history):
    held, today = history
    counted = sorted(d.on for d in held if d.counts)
    complete = [s for s in derive(hepb(), BORN, held, today) if s.state == COMPLETE]
    assert [s.number for s in complete] == list(range(1, len(counted) + 1))
    assert [s.given for s in complete] == counted and {s.round for s in complete} <= {1}


@given(histories())
def test_due_dates_never_precede_the_minimum_age_or_intervals(history):
    held, today = history
    rules = hepb().series[0].doses
    states = by_number(derive(hepb(), BORN, held, today))
    for number, state in states.items():
        if state.state == COMPLETE or number > len(rules):
            continue
        rule = rules[number - 1]
        assert state.earliest is not None and state.earliest >= after(BORN, rule.min_age)
        previous, first = states.get(number - 1), states.get(1)
        if previous and previous.given and rule.min_interval:
            assert state.earliest >= after(previous.given, rule.min_interval)
        if first and first.given and rule.min_interval_from_first:
            assert state.earliest >= after(first.given, rule.min_interval_from_first)
        assert state.due is None or state.due >= state.earliest


@given(histories())
def test_adding_a_valid_dose_never_makes_an_earlier_dose_incomplete(history):
    held, today = history
    before = derive(hepb(), BORN, held, today)
    pending = next_doses(before)
    on = max(today, *(p.earliest for p in pending if p.earliest)) if pending else today
    after_adding = {(s.series, s.number): s for s in derive(hepb(), BORN, [*held, HeldDose("new", HEPB, on)], on)}
    for state in before:
        if state.state == COMPLETE:
            now = after_adding[(state.series, state.number)]
            assert now.state == COMPLETE and now.given == state.given and now.dose_id == state.dose_id


@given(histories(CHILD_VACCINES), st.randoms(use_true_random=False))
def test_the_state_is_the_same_whatever_order_the_doses_were_recorded_in(history, shuffler):
    held, today = history
    shuffled = list(held)
    shuffler.shuffle(shuffled)
    childhood = schedules.schedule("childhood-epi")
    born = held[0].on - timedelta(days=3) if held else CHILD
    assert derive(childhood, born, shuffled, today) == derive(childhood, born, held, today)
    assert derive(hepb(), BORN, shuffled, today) == derive(hepb(), BORN, held, today)


@given(histories(), st.lists(st.tuples(st.integers(-500, 900), st.sampled_from(("not-given", "entered-in-error"))),
                             max_size=4))
def test_records_that_are_not_doses_never_change_the_states(history, extra):
    held, today = history
    base = held[0].on if held else date(2021, 1, 1)
    noise = [HeldDose(f"n{i}", HEPB, base + timedelta(days=offset), status) for i, (offset, status) in enumerate(extra)]
    assert derive(hepb(), BORN, [*held, *noise], today) == derive(hepb(), BORN, held, today)


def test_held_doses_read_partial_dates_as_their_last_day_and_never_after_today():
    assert schedules.occurred_day("2019", date(2026, 1, 1)) == date(2019, 12, 31)
    assert schedules.occurred_day("2024-02", date(2026, 1, 1)) == date(2024, 2, 29)
    assert schedules.occurred_day("2026", date(2026, 3, 4)) == date(2026, 3, 4)
    row = {"id": "a", "vaccine": HEPB, "occurred": "2019-05", "status": "historical", "primary_source": 0,
           "dose_number": None}
    assert HeldDose.from_row(row, date(2026, 1, 1)) == HeldDose("a", HEPB, date(2019, 5, 31), "historical", False)
    assert replace(HeldDose.from_row(row, date(2026, 1, 1)), primary_source=True).counts is False


def test_schedule_files_in_the_package_are_the_ones_loaded():
    shipped = sorted(p.stem for p in Path(schedules.SHIPPED_DIR).glob("*.toml"))
    assert shipped == sorted(schedules.schedules()) == ["childhood-epi", "hepb-staff"]
