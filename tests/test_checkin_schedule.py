"""Check-ins: the validated record, and the schedule computed from a plan, the check-ins and stays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fieldkit.records.alerts import classify, load_ruleset
from fieldkit.records.checkins import CheckIn, Plan, due_days, priority, standing, statuses
from fieldkit.records.models import describe_error

START = date(2024, 3, 1)


def d(n: int) -> date:
    """Day n of the plan, day 0 being the start."""
    return START + timedelta(days=n)


@st.composite
def plans(draw):
    interval = draw(st.integers(1, 4))
    return Plan(START, interval, draw(st.integers(1, 30)), draw(st.integers(1, interval)))


@st.composite
def cases(draw):
    plan = draw(plans())
    done = draw(st.sets(st.integers(-2, 35).map(d), max_size=30))
    today = d(draw(st.integers(-3, 40)))
    stays = draw(st.lists(st.tuples(st.integers(-2, 35), st.one_of(st.none(), st.integers(1, 10))).map(
        lambda stay: (d(stay[0]), None if stay[1] is None else d(stay[0] + stay[1]))), max_size=2))
    return plan, done, today, stays


def in_stay(day, stays):
    return any(admitted <= day and (home is None or day < home) for admitted, home in stays)


def window(plan, due):
    return [due + timedelta(days=k) for k in range(plan.window_days)]


# --- the plan


def test_a_14_day_daily_plan_expects_14_check_ins():
    plan = Plan(START, 1, 14)
    assert due_days(plan) == [d(n) for n in range(14)]
    assert standing(plan, (), START).expected == 14
    assert len(due_days(Plan(START, 2, 14))) == 7
    assert len(due_days(Plan(START, 7, 182))) == 26


def test_a_plan_with_overlapping_windows_is_refused():
    with pytest.raises(ValueError):
        Plan(START, 1, 14, window_days=2)
    with pytest.raises(ValueError):
        Plan(START, 0, 14)


# --- properties


@given(cases())
def test_every_due_day_is_done_missed_pending_or_paused(case):
    plan, done, today, stays = case
    now = standing(plan, done, today, stays)
    assert now.done + len(now.missed) + now.pending + now.paused == now.expected == len(due_days(plan))
    assert now.done == sum(bool(set(window(plan, due)) & done) for due in due_days(plan))  # done means a check-in


@given(cases())
def test_missed_only_once_the_window_has_passed_without_a_check_in(case):
    plan, done, today, stays = case
    for due in standing(plan, done, today, stays).missed:
        assert window(plan, due)[-1] < today
        assert not set(window(plan, due)) & done


@given(cases())
def test_a_check_in_on_a_due_day_means_it_is_not_missed(case):
    plan, done, today, stays = case
    for due in due_days(plan):
        assert due not in standing(plan, done | {due}, today, stays).missed
        if plan.window_days > 1:  # the last day of the window counts too
            assert due not in standing(plan, done | {window(plan, due)[-1]}, today, stays).missed


@given(cases())
def test_days_in_hospital_are_never_missed_and_never_due(case):
    plan, done, today, stays = case
    now = standing(plan, done, today, stays)
    assert not any(in_stay(due, stays) for due in now.missed)
    assert now.next_due is None or not in_stay(now.next_due, stays)


@given(cases())
def test_misses_in_a_row_are_the_trailing_misses_of_the_passed_windows(case):
    plan, done, today, stays = case
    now = standing(plan, done, today, stays)
    passed = [(due, status) for due, status in statuses(plan, done, today, stays)
              if window(plan, due)[-1] < today and status != "paused"]
    trailing = passed[len(passed) - now.misses_in_a_row:] if now.misses_in_a_row else []
    assert all(status == "missed" for _due, status in trailing)
    before = passed[:len(passed) - now.misses_in_a_row]
    assert not before or before[-1][1] == "done"  # the run stops at a check-in, or at the start


@given(cases())
def test_next_due_is_the_earliest_day_still_open(case):
    plan, done, today, stays = case
    now = standing(plan, done, today, stays)
    if now.next_due is None:
        assert now.pending == 0 and now.days_overdue == 0
        return
    assert today <= window(plan, now.next_due)[-1]  # overdue at most to the end of its window
    assert not set(window(plan, now.next_due)) & done
    assert now.days_overdue == max(0, (today - now.next_due).days) < plan.window_days
    assert now.finished is False


@given(cases())
def test_finished_once_every_window_has_passed(case):
    plan, done, today, stays = case
    now = standing(plan, done, today, stays)
    assert now.finished == (window(plan, due_days(plan)[-1])[-1] < today)
    if now.finished:
        assert now.pending == 0 and now.next_due is None


# --- examples a clinic would recognise


def test_a_daily_plan_day_by_day():
    plan = Plan(START, 1, 14)
    first_day = standing(plan, (), d(0))
    assert (first_day.next_due, first_day.days_overdue, first_day.missed, first_day.pending) == (d(0), 0, (), 14)
    # checked in on days 0 and 1, nothing on days 2 and 3; today is day 4
    now = standing(plan, {d(0), d(1)}, d(4))
    assert now.missed == (d(2), d(3)) and now.misses_in_a_row == 2
    assert (now.next_due, now.done, now.pending, now.finished) == (d(4), 2, 10, False)
    # a check-in today does not undo yesterday's miss; the run counts passed windows only
    assert standing(plan, {d(0), d(1), d(4)}, d(4)).misses_in_a_row == 2
    assert standing(plan, {d(0), d(1), d(3)}, d(4)).misses_in_a_row == 0
    done_all = standing(plan, {d(n) for n in range(14)}, d(14))
    assert (done_all.finished, done_all.done, done_all.next_due) == (True, 14, None)


def test_a_late_check_in_counts_within_its_window_and_overdue_is_counted():
    plan = Plan(START, 3, 9, window_days=2)  # due days 0, 3, 6; each may be done that day or the next
    assert standing(plan, {d(1)}, d(2)).done == 1
    now = standing(plan, set(), d(1))
    assert (now.next_due, now.days_overdue, now.missed) == (d(0), 1, ())
    now = standing(plan, set(), d(2))
    assert (now.next_due, now.days_overdue, now.missed) == (d(3), 0, (d(0),))


def test_a_hospital_stay_pauses_the_plan_and_it_resumes_on_return():
    plan = Plan(START, 1, 14)
    in_hospital = standing(plan, {d(0)}, d(5), [(d(2), None)])
    assert (in_hospital.missed, in_hospital.paused, in_hospital.next_due) == ((d(1),), 12, None)
    back = standing(plan, {d(0)}, d(5), [(d(2), d(5))])  # home on day 5: due again from that day
    assert (back.missed, back.paused, back.next_due, back.misses_in_a_row) == ((d(1),), 3, d(5), 1)
    # a miss either side of a stay counts as two in a row: the stay neither breaks nor lengthens a run
    assert standing(plan, {d(0)}, d(6), [(d(2), d(5))]).misses_in_a_row == 2


def test_priority_sorts_red_then_amber_then_none_and_longest_overdue_first():
    rows = [("none", 5), ("red", 0), ("amber", 2), ("red", 3), ("amber", 0)]
    assert sorted(rows, key=lambda row: priority(*row)) == [
        ("red", 3), ("red", 0), ("amber", 2), ("amber", 0), ("none", 5)]


# --- the check-in record


def test_a_check_in_is_validated_with_the_vital_signs_ranges():
    check_in = CheckIn(enrolment_id=" e1 ", day="02/03/2024", spo2="٩٣", temperature_c="38,5", pulse="",
                       symptoms=["vomiting", "vomiting", "chest_pain"], by_phone=True)
    assert (check_in.enrolment_id, check_in.day, check_in.spo2, check_in.temperature_c, check_in.pulse) == (
        "e1", date(2024, 3, 2), 93.0, 38.5, None)
    assert check_in.symptoms == ["vomiting", "chest_pain"]
    alert = classify(load_ruleset("covid-home-2021"), check_in.readings(), check_in.symptoms)
    assert (alert.level, alert.ruleset) == ("red", "covid-home-2021@1")


@pytest.mark.parametrize("fields, problem", [
    ({"spo2": 120}, "SpO2: 120 % is not possible (allowed 40–100 %)"),
    ({"resp_rate": "fast"}, "Respiratory rate: “fast” is not a number"),
    ({"symptoms": ["sneezing"]}, "“sneezing” is not a known symptom"),
    ({"day": "31/02/2024"}, "is not a day of the calendar"),
    ({"enrolment_id": "  "}, "is required"),
])
def test_a_bad_check_in_is_refused(fields, problem):
    with pytest.raises(ValidationError) as caught:
        CheckIn.model_validate({"enrolment_id": "e1", "day": START, **fields})
    assert problem in describe_error(caught.value)
