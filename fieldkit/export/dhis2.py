"""Monthly counts as a DHIS2 aggregate data value set: the JSON `POST /api/dataValueSets` takes,
and its CSV form (dhis2-docs: src/developer/web-api/data.md).

A mapping file (TOML, `programme_data/dhis2_mapping.toml`; a site's own replaces it) names each
fieldkit indicator (a report, its filters, which of its months is the period, what says the org
unit) and the DHIS2 data element and category option combo it is reported as, by their codes, and
maps fieldkit's laptops or facility codes to org unit codes. Codes, never DHIS2 uids: the JSON
says `idScheme: CODE`, and a CSV is posted with `?idScheme=CODE` (a CSV cannot say it). Counts
from several laptops of one org unit are summed; a count whose laptop or facility the mapping
does not place is refused, never dropped, so the totals sent always equal the reports'.

Pure: counts in, documents out. The hub counts (hub/reports.py `dhis2_counts`).
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _

SHIPPED = Path(__file__).resolve().parent.parent / "records" / "programme_data" / "dhis2_mapping.toml"
CSV_COLUMNS = ("dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value", "storedby", "lastupdated",
               "comment", "followup")
ID_SCHEME = "CODE"
_CODE = r"^[^\s].{0,49}$"  # DHIS2 codes: up to 50 characters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Strict):
    name: str = Field(min_length=1)
    report: str = Field(min_length=1)  # a hub report, id@version
    filters: dict[str, str] = Field(default_factory=dict)
    period_by: str = "month"  # the report's month grouping that is the period (an outcome's month, say)
    org_unit_by: str = "device"  # the report's grouping whose values the org units map
    data_element: str = Field(pattern=_CODE)
    category_option_combo: str = Field("default", pattern=_CODE)


class Mapping(_Strict):
    version: int = Field(ge=1)
    data_set: str = Field("", max_length=50)
    attribute_option_combo: str = Field("", max_length=50)
    stored_by: str = Field("fieldkit", max_length=100)
    default_org_unit: str = Field("", max_length=50)  # for laptops and facilities not listed
    org_units: dict[str, str] = Field(default_factory=dict)  # laptop id or facility code -> org unit code
    indicators: tuple[Indicator, ...] = Field(min_length=1, alias="indicator")


@dataclass(frozen=True)
class Count:
    indicator: str  # an Indicator's name
    source: str  # what the indicator's `org_unit_by` said: a laptop's id, a facility's code
    value: int


def load_mapping(path: Path | None = None) -> Mapping:
    """The mapping in `path`, or the shipped one; a bad file is one line naming the problem."""
    path = path or SHIPPED
    try:
        mapping = Mapping.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FieldkitError(f"{path.name}: {exc}") from None
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise FieldkitError(f"{path.name}: {'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None
    for what, keys in (("indicator", [i.name for i in mapping.indicators]),
                       ("data element and combo", [f"{i.data_element} {i.category_option_combo}"
                                                   for i in mapping.indicators])):
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:  # two indicators sent as one data value would be summed into it
            raise FieldkitError(f"{path.name}: {what} “{twice[0]}” is listed twice")
    return mapping


def period_of(month: str) -> str:
    """DHIS2's monthly period, "202405", from "2024-05" (or "202405")."""
    text = month.strip().replace("-", "")
    if not re.fullmatch(r"\d{4}(0[1-9]|1[0-2])", text):
        raise FieldkitError(_("a DHIS2 monthly period is a month, like 2024-05, not “{value}”").format(value=month))
    return text


def data_value_set(counts: Iterable[Count], mapping: Mapping, *, period: str) -> dict[str, Any]:
    """The data value set of one month's counts: each value with its data element, category
    option combo, org unit and period, summed per org unit; zero counts are left out."""
    period = period_of(period)
    indicators = {i.name: i for i in mapping.indicators}
    totals: dict[tuple[str, str, str], int] = {}
    for count in counts:
        indicator = indicators.get(count.indicator)
        if indicator is None:
            raise FieldkitError(_("“{name}” is not an indicator of the DHIS2 mapping").format(name=count.indicator))
        org_unit = mapping.org_units.get(count.source) or mapping.default_org_unit
        if not org_unit:
            raise FieldkitError(_("{name}: no DHIS2 org unit for “{source}”; add it under [org_units] in the mapping "
                                  "(or give default_org_unit)").format(name=indicator.name, source=count.source))
        key = (indicator.data_element, indicator.category_option_combo, org_unit)
        totals[key] = totals.get(key, 0) + count.value
    values = []
    for (element, combo, org_unit), value in sorted(totals.items()):
        if value:
            item = {"dataElement": element, "period": period, "orgUnit": org_unit, "categoryOptionCombo": combo,
                    "value": str(value), "storedBy": mapping.stored_by}
            if mapping.attribute_option_combo:
                item["attributeOptionCombo"] = mapping.attribute_option_combo
            values.append(item)
    found: dict[str, Any] = {"idScheme": ID_SCHEME}
    if mapping.data_set:
        found["dataSet"] = mapping.data_set
    found["period"] = period
    units = {value["orgUnit"] for value in values}
    if len(units) == 1:
        found["orgUnit"] = units.pop()
    if mapping.attribute_option_combo:
        found["attributeOptionCombo"] = mapping.attribute_option_combo
    found["dataValues"] = values
    return found


def to_csv(value_set: MappingType[str, Any], *, last_updated: str = "") -> str:
    """The data value set as DHIS2's CSV import reads it (post it with `?idScheme=CODE`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for value in value_set["dataValues"]:
        writer.writerow([value["dataElement"], value["period"], value["orgUnit"], value["categoryOptionCombo"],
                         value.get("attributeOptionCombo", ""), value["value"], value.get("storedBy", ""),
                         last_updated, value.get("comment", ""), "false"])
    return out.getvalue()


def totals(value_set: MappingType[str, Any], mapping: Mapping) -> dict[str, int]:
    """The value set's sum per indicator (its data element and combo): what a dry run would import."""
    by_code = {(i.data_element, i.category_option_combo): i.name for i in mapping.indicators}
    found: dict[str, int] = {}
    for value in value_set["dataValues"]:
        name = by_code[(value["dataElement"], value["categoryOptionCombo"])]
        found[name] = found.get(name, 0) + int(value["value"])
    return found
