"""Programme managers' reports across every clinic, read from the hub's reporting tables.

A report is a `Definition`: what it lists (its columns), what it counts (its unit: patients,
enrolments, referrals, results or doses), what it may be filtered and grouped by. A published
definition never changes; a changed report is a new version beside the old one (tests pin each
one's fingerprint), and every run names the version it ran (`enrolments@1`), its parameters and the
time it was made, like Tamanu's report definition versions (reference/clinical.md G).

Counts follow the laptops' registry (records/registry.py), with the rows read in the same order:
"patients" counts each patient once, in the group of their latest row; the other units count
rows; a blank value is its own group, "not recorded"; so the groups of any grouping partition the
total, which equals the line list's length. A patient sent abroad twice is one in
`referred-patients` and two in `referrals`.

A report also names the laptops whose rows it includes but which the hub has not heard from in
`stale_days` days (their later work is not in it yet: a count is as fresh as its stalest laptop).

All functions block (run them in a thread). Filters are the definition's dimensions, matched
exactly as the line list shows them ("not recorded" matches a blank), months as YYYY-MM, and
`from`/`to` days (YYYY-MM-DD, inclusive) on the report's date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.export import dhis2
from fieldkit.hub.reporting import ATTRIBUTE_COLUMNS
from fieldkit.hub.settings import HubSettings
from fieldkit.hub.storage import HubStorage
from fieldkit.i18n import N_, _
from fieldkit.records import labs, registry
from fieldkit.records.enrolments import programmes
from fieldkit.store.journal import canonical

UNITS = ("patients", "enrolments", "referrals", "results", "doses")
NOT_RECORDED = registry.NOT_RECORDED
PAGE = 5000  # line-list rows read per query
STALE_DAYS: int = HubSettings.model_fields["stale_days"].default  # the hub's setting, when not given
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Columns holding numbers: a filter compares their text (PostgreSQL compares no integer to '').
_NUMBERS = frozenset({"birth_year", "programme_version", "days_to_arrival", "days_to_feedback", "dose_number", "results"})
_RANGE = ("from", "to")


@dataclass(frozen=True)
class Definition:
    """One version of a report. `sql` maps each column (and grouping) to its expression over
    `source`; `dated` is the column `month`, `from` and `to` read; `months` adds month groupings of
    other date columns; `inner` are filters applied inside a `source` that groups rows (its
    `{inner}`); `key` completes the order that makes every row's place unique."""

    id: str
    version: int
    title: str
    unit: str
    columns: tuple[str, ...]
    filters: tuple[str, ...]
    groups: tuple[str, ...]
    source: str = field(repr=False)
    where: str = field(repr=False)
    sql: tuple[tuple[str, str], ...] = field(repr=False)
    dated: str = field(repr=False)
    key: tuple[str, ...] = field(repr=False)
    months: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    inner: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    attributes: bool = field(default=False, repr=False)  # any programme attribute is a grouping

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def fingerprint(self) -> str:
        """What the definition says, as text: a published version's must never change."""
        return canonical([self.id, self.version, self.title, self.unit, self.columns, self.filters, self.groups,
                          self.source, self.where, self.sql, self.dated, self.key, self.months, self.inner,
                          self.attributes])


@dataclass
class Report:
    definition: Definition
    parameters: dict[str, str]
    generated_at: str  # ISO 8601 UTC
    columns: tuple[str, ...]
    rows: Any  # a list; a line list without a limit is an iterator that reads as it is consumed
    total: int
    stale_devices: list[tuple[str, str]]  # (laptop, last heard of), of laptops whose rows are counted
    unit: str


def _attribute_names() -> tuple[str, ...]:
    """Every programme attribute: each is a grouping of the enrolment reports."""
    return tuple(sorted({a.name for p in programmes().values() for a in p.attributes}))


def _define(id: str, version: int, title: str, unit: str, sql: dict[str, str], *, source: str, where: str, dated: str,
            key: tuple[str, ...], groups: tuple[str, ...], months: dict[str, str] | None = None,
            inner: dict[str, str] | None = None, attributes: bool = False) -> Definition:
    months, inner = months or {}, inner or {}
    columns = tuple(sql)
    filters = (*[c for c in columns if c != "attributes"], "month", *months, *inner, *_RANGE)
    return Definition(id, version, title, unit, columns, filters, groups, source, where, tuple(sql.items()), dated,
                      key, tuple(months.items()), tuple(inner.items()), attributes)


_ENROLMENTS = {
    "enrolment_id": "e.id", "patient_id": "e.patient_id", "programme": "e.programme",
    "programme_version": "e.programme_version", "status": "e.status", "outcome": "e.outcome",
    "enrolled_on": "e.enrolled_on", "outcome_date": "e.outcome_date", "team": "e.team",
    **{attribute: f"e.{column}" for column, attribute in ATTRIBUTE_COLUMNS.items()},
    "sex": "p.sex", "birth_year": "p.birth_year", "device": "e.device", "attributes": "e.attributes",
}
_ENROLMENT_GROUPS = ("programme", "programme_version", "status", "outcome", "team", *ATTRIBUTE_COLUMNS.values(), "sex",
                     "birth_year", "month", "outcome_month", "device")
_REFERRALS = {
    "referral_id": "r.id", "number": "r.number", "patient_id": "r.patient_id", "kind": "r.kind",
    "from_facility": "r.from_facility", "to_facility": "r.to_facility", "service": "r.service", "urgency": "r.urgency",
    "status": "r.status", "referred_on": "r.referred_on", "expected_by": "r.expected_by",
    "days_to_arrival": "r.days_to_arrival", "days_to_feedback": "r.days_to_feedback", "sex": "p.sex",
    "device": "r.device",
}
_REFERRAL_GROUPS = ("kind", "from_facility", "to_facility", "service", "urgency", "status", "sex", "month", "device")
_COUNTED = ", ".join(f"'{status}'" for status in sorted(labs.COUNTED))  # what a round's summary reads

DEFINITIONS: dict[str, Definition] = {d.ref: d for d in (
    _define("enrolments", 1, N_("Programme enrolments"), "enrolments", _ENROLMENTS,
            source="report_enrolments e LEFT JOIN report_patients p ON p.id = e.patient_id", where="e.voided = 0",
            dated="enrolled_on", key=("enrolment_id",), groups=_ENROLMENT_GROUPS, months={"outcome_month": "outcome_date"},
            attributes=True),
    _define("enrolled-patients", 1, N_("Patients in programmes"), "patients", _ENROLMENTS,
            source="report_enrolments e LEFT JOIN report_patients p ON p.id = e.patient_id", where="e.voided = 0",
            dated="enrolled_on", key=("enrolment_id",), groups=_ENROLMENT_GROUPS, months={"outcome_month": "outcome_date"},
            attributes=True),
    _define("patients", 1, N_("Registered patients"), "patients", {
        "patient_id": "p.id", "sex": "p.sex", "birth_year": "p.birth_year", "locality": "p.locality",
        "registered_on": "p.registered_on", "immunity": "p.immunity", "vaccinated": "p.vaccinated", "device": "p.device"},
            source="report_patients p", where="p.state = 'active'", dated="registered_on", key=("patient_id",),
            groups=("sex", "birth_year", "locality", "immunity", "vaccinated", "month", "device")),
    _define("referrals", 1, N_("Referrals"), "referrals", _REFERRALS,
            source="report_referrals r LEFT JOIN report_patients p ON p.id = r.patient_id", where="r.voided = 0",
            dated="referred_on", key=("referral_id",), groups=_REFERRAL_GROUPS),
    _define("referred-patients", 1, N_("Referred patients"), "patients", _REFERRALS,
            source="report_referrals r LEFT JOIN report_patients p ON p.id = r.patient_id", where="r.voided = 0",
            dated="referred_on", key=("referral_id",), groups=_REFERRAL_GROUPS),
    _define("lab-results", 1, N_("Lab results"), "results", {
        "result_id": "l.id", "patient_id": "l.patient_id", "round_id": "l.round_id", "test": "l.test",
        "loinc": "l.loinc", "value": "l.value", "unit": "l.unit", "coded": "l.coded",
        "interpretation": "l.interpretation", "positive": "l.positive", "status": "l.status",
        "collected": "l.collected", "device": "l.device"},
            source="report_lab_results l", where="l.voided = 0", dated="collected", key=("result_id",),
            groups=("round_id", "test", "loinc", "unit", "coded", "interpretation", "positive", "status", "month",
                    "device")),
    # One row per person screened in a round (a duplicate record counts as the one it was merged
    # into), from the results a round's summary counts (records/screening.py): positive if any of
    # them is; vaccinated and immunity as records/immunity.py reads the person's hepatitis B doses.
    _define("lab-screening", 1, N_("Screening rounds"), "patients", {
        "round_id": "s.round_id", "patient_id": "s.person", "results": "s.results", "positive": "s.positive",
        "vaccinated": "q.vaccinated", "immunity": "q.immunity", "screened_on": "s.screened_on", "sex": "q.sex",
        "device": "q.device"},
            source=("(SELECT l.round_id, coalesce(m.merged_into, l.patient_id) AS person, count(*) AS results, "
                    "max(l.positive) AS positive, min(l.collected) AS screened_on FROM report_lab_results l "
                    "LEFT JOIN report_patients m ON m.id = l.patient_id WHERE l.voided = 0 AND l.round_id IS NOT NULL "
                    f"AND l.status IN ({_COUNTED}){{inner}} GROUP BY l.round_id, coalesce(m.merged_into, l.patient_id)) s "
                    "LEFT JOIN report_patients q ON q.id = s.person"),
            where="1 = 1", dated="screened_on", key=("patient_id", "round_id"), inner={"test": "l.test"},
            groups=("round_id", "positive", "vaccinated", "immunity", "sex", "month", "device")),
    _define("immunizations", 1, N_("Vaccine doses"), "doses", {
        "immunization_id": "i.id", "patient_id": "i.patient_id", "vaccine": "i.vaccine", "series": "i.series",
        "dose_number": "i.dose_number", "status": "i.status", "occurred": "i.occurred", "device": "i.device"},
            source="report_immunizations i", where="1 = 1", dated="occurred", key=("immunization_id",),
            groups=("vaccine", "series", "dose_number", "status", "month", "device")),
)}


def definition(report_id: str) -> Definition:
    """A definition by `id@version`, or by `id` alone: its latest version."""
    if report_id in DEFINITIONS:
        return DEFINITIONS[report_id]
    versions = [d for d in DEFINITIONS.values() if d.id == report_id]
    if not versions:
        raise FieldkitError(_("no report “{id}” (one of: {known})").format(
            id=report_id, known=", ".join(sorted({d.id for d in DEFINITIONS.values()}))))
    return max(versions, key=lambda d: d.version)


def groups(d: Definition) -> tuple[str, ...]:
    """What a report may be counted by: its groupings, and every programme attribute if it has them."""
    return (*d.groups, *(a for a in _attribute_names() if a not in d.groups and a not in d.columns)) \
        if d.attributes else d.groups


# -- building the queries ------------------------------------------------------------------------

def _expression(storage: HubStorage, d: Definition, name: str) -> tuple[str, str]:
    """(kind, SQL) of a dimension: a value, a month of a date column, or a filter inside the source."""
    sql = dict(d.sql)
    if name in sql and name != "attributes":
        return ("number" if name in _NUMBERS else "value"), sql[name]
    months = {"month": d.dated, **dict(d.months)}
    if name in months:
        return "month", sql[months[name]]
    if name in dict(d.inner):
        return "inner", dict(d.inner)[name]
    if d.attributes and name in _attribute_names():
        return "value", storage.json_text(sql["attributes"], name)
    raise KeyError(name)


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def _conditions(storage: HubStorage, d: Definition, filters: Mapping[str, str]) -> tuple[str, list[Any]]:
    """The report's FROM and WHERE with the filters, and their parameters in order."""
    inner: list[str] = []
    inner_params: list[Any] = []
    outer: list[str] = [d.where]
    params: list[Any] = []
    dated = dict(d.sql)[d.dated]
    for name, value in sorted(filters.items()):
        value = str(value).strip()
        if name in _RANGE:
            if not _DAY.fullmatch(value):
                raise FieldkitError(_("{name}: give a day as YYYY-MM-DD, not “{value}”").format(name=name, value=value))
            outer.append(f"{dated} {'>=' if name == 'from' else '<='} ?")
            params.append(value)
            continue
        try:
            kind, expression = _expression(storage, d, name)
        except KeyError:
            raise FieldkitError(_("report {report} has no filter “{name}” (one of: {filters})").format(
                report=d.ref, name=name, filters=", ".join(filters_of(d)))) from None
        if kind == "inner":
            inner.append(f" AND {expression} = ?")
            inner_params.append(value)
            continue
        if kind == "number":
            expression = f"CAST({expression} AS TEXT)"
        if value.casefold() == NOT_RECORDED:
            outer.append(f"({expression} IS NULL OR {expression} = '')")
        elif kind == "month":
            if not _MONTH.fullmatch(value):
                raise FieldkitError(_("{name}: give a month as YYYY-MM, not “{value}”").format(name=name, value=value))
            outer.append(f"{expression} >= ? AND {expression} < ?")
            params += [value, _next_month(value)]
        else:
            outer.append(f"{expression} = ?")
            params.append(value)
    source = d.source.replace("{inner}", "".join(inner))
    return f"FROM {source} WHERE {' AND '.join(outer)}", inner_params + params


def filters_of(d: Definition) -> tuple[str, ...]:
    return (*d.filters, *(a for a in groups(d) if a not in d.filters))


def _order(d: Definition) -> list[str]:
    sql = dict(d.sql)
    return [f"coalesce({sql[d.dated]}, '')", *(sql[name] for name in d.key)]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stale(storage: HubStorage, d: Definition, filters: Mapping[str, str], *, stale_days: int = STALE_DAYS
          ) -> list[tuple[str, str]]:
    """The laptops whose rows the report counts and which the hub has not heard of for `stale_days`."""
    where, params = _conditions(storage, d, filters)
    devices = {row[0] for row in storage.query(f"SELECT DISTINCT {dict(d.sql)['device']} {where}", params) if row[0]}
    heard = storage.heard_from()
    line = (datetime.now(UTC) - timedelta(days=stale_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return sorted((device, heard.get(device, "")) for device in devices if heard.get(device, "") < line)


def _report(storage: HubStorage, d: Definition, parameters: Mapping[str, Any], columns: tuple[str, ...], rows: Any,
            total: int, filters: Mapping[str, str], stale_days: int) -> Report:
    return Report(d, {name: str(value) for name, value in parameters.items() if value is not None}, _now(), columns,
                  rows, total, stale(storage, d, filters, stale_days=stale_days), d.unit)


# -- the three reports ---------------------------------------------------------------------------

def line_list(storage: HubStorage, report_id: str, filters: Mapping[str, str], *, limit: int | None = None,
              stale_days: int = STALE_DAYS) -> Report:
    """The report's rows, oldest first (for "patients", each patient's latest row, by patient),
    and how many there are. With `limit`, the first rows as a list; without, an iterator that reads
    them page by page as it is consumed (a file of any length in bounded memory)."""
    d = definition(report_id)
    where, params = _conditions(storage, d, filters)
    sql = dict(d.sql)
    counted = f"count(DISTINCT {sql['patient_id']})" if d.unit == "patients" else "count(*)"
    total = int(storage.query(f"SELECT {counted} {where}", params)[0][0])
    rows: Any = _rows(storage, d, where, params)
    if limit is not None:
        rows = list(islice(rows, limit))
    return _report(storage, d, {**filters, "limit": limit}, d.columns, rows, total, filters, stale_days)


def _rows(storage: HubStorage, d: Definition, where: str, params: list[Any]) -> Iterator[dict[str, Any]]:
    sql = dict(d.sql)
    order = _order(d)
    if d.unit == "patients":  # grouped by patient, each group in the registry's order
        order = [sql["patient_id"], *order]
    select = ", ".join([*order, *sql.values()])
    pages = _pages(storage, select, where, params, order)
    flat = (dict(zip(d.columns, _shown(row[len(order):]))) for page in pages for row in page)
    if d.unit != "patients":
        yield from flat
        return
    for _patient, rows in groupby(flat, key=lambda row: row["patient_id"]):
        yield from registry.per_patient(rows)


def _pages(storage: HubStorage, select: str, where: str, params: list[Any], order: list[str]
           ) -> Iterator[list[tuple[Any, ...]]]:
    """The rows in `order`, a page per query: keyset paging, so no query holds the storage long."""
    after: list[Any] | None = None
    while True:
        keyset = f" AND ({', '.join(order)}) > ({', '.join('?' * len(order))})" if after is not None else ""
        page = storage.query(f"SELECT {select} {where}{keyset} ORDER BY {', '.join(order)} LIMIT {PAGE}",
                             [*params, *(after or ())])
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = list(page[-1][:len(order)])


def _shown(values: tuple[Any, ...]) -> list[Any]:
    # PostgreSQL hands JSONB back as a dict; SQLite as the text stored.
    return [canonical(value) if isinstance(value, dict) else value for value in values]


def counts(storage: HubStorage, report_id: str, by: str, filters: Mapping[str, str], *,
           stale_days: int = STALE_DAYS) -> Report:
    """The report's rows counted by one grouping, largest group first; the groups partition the total."""
    d = definition(report_id)
    counted = _counted(storage, d, by, filters)
    rows = [{by: value, "count": number} for value, number in counted["groups"].items()]
    return _report(storage, d, {**filters, "by": by}, (by, "count"), rows, counted["total"], filters, stale_days)


def _counted(storage: HubStorage, d: Definition, by: str, filters: Mapping[str, str]) -> dict[str, Any]:
    if by not in groups(d):
        raise FieldkitError(_("report {report} cannot be counted by “{name}” (one of: {groups})").format(
            report=d.ref, name=by, groups=", ".join(groups(d))))
    where, params = _conditions(storage, d, filters)
    kind, expression = _expression(storage, d, by)
    value = f"substr({expression}, 1, 7)" if kind == "month" else expression
    found = storage.query(f"SELECT {dict(d.sql)['patient_id']}, {value} {where} ORDER BY {', '.join(_order(d))}",
                          params)
    # The registry's own rule, on rows in its order: the same rows give the same groups as on a laptop.
    return registry.counts([{"patient_id": patient, by: group} for patient, group in found], by, unit=d.unit)


def over_time(storage: HubStorage, report_id: str, filters: Mapping[str, str], *, period: str = "month",
              stale_days: int = STALE_DAYS) -> Report:
    """The report's rows counted by month, in calendar order, months without rows included."""
    if period != "month":
        raise FieldkitError(_("reports are counted over time by month, not by “{period}”").format(period=period))
    d = definition(report_id)
    counted = _counted(storage, d, "month", filters)["groups"]
    months = sorted(m for m in counted if _MONTH.fullmatch(m))
    rows = []
    month = months[0] if months else None
    while month is not None and month <= months[-1]:
        rows.append({"month": month, "count": counted.get(month, 0)})
        month = _next_month(month)
    rows += [{"month": m, "count": n} for m, n in sorted(counted.items()) if not _MONTH.fullmatch(m)]
    return _report(storage, d, {**filters, "period": period}, ("month", "count"), rows,
                   sum(r["count"] for r in rows), filters, stale_days)


# -- national reporting ----------------------------------------------------------------------------

def dhis2_counts(storage: HubStorage, mapping: dhis2.Mapping, month: str) -> list[dhis2.Count]:
    """Each indicator of a DHIS2 mapping counted for one month, by whatever says its org unit."""
    found = []
    for indicator in mapping.indicators:
        report = counts(storage, indicator.report, indicator.org_unit_by,
                        {**indicator.filters, indicator.period_by: month})
        found += [dhis2.Count(indicator.name, str(row[indicator.org_unit_by]), row["count"]) for row in report.rows]
    return found


def month_of(text: str) -> str:
    """A month as YYYY-MM, from YYYY-MM or DHIS2's YYYYMM."""
    text = text.strip()
    if re.fullmatch(r"\d{6}", text):
        text = f"{text[:4]}-{text[4:]}"
    if not _MONTH.fullmatch(text):
        raise FieldkitError(_("give the period as a month, YYYY-MM, not “{value}”").format(value=text))
    return text

