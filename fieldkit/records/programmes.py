"""Programmes: a cohort, registry or mission a patient is enrolled in, as versioned data.

A programme says what an enrolment records (its attributes, some with fixed choices), whether a
patient may hold two at once or enrol twice, how check-ins are scheduled and which alert rule set
reads them, and how an enrolment may end (its outcome codes). They are TOML files, not code, so a
site adds its own without a new release: fieldkit ships some in `programme_data/`, and a site's
folder may add more.

When two files give the same id, the higher `version` wins, wherever it comes from: a site that
changes a shipped programme gives its copy a higher version, and a later fieldkit release with a
still higher one takes over again (the site then bumps its copy). Two files with the same id and
version that differ are refused, because an enrolment stores `id@version` and that must mean one
definition.

Names, labels and choices are English in the files and translated when shown; `SHIPPED_TEXT`
lists the shipped ones for the catalogue extractor (a test keeps it in step with the files).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.records.alerts import first_problem, load_ruleset
from fieldkit.records.checkins import Plan
from fieldkit.records.models import Record
from fieldkit.text import clean_text

SHIPPED_DIR = Path(__file__).parent / "programme_data"
# Named, not globbed: the folder holds other tables too (alert bands, facilities). A new shipped
# programme is added here with its texts below, which it needs anyway.
SHIPPED = ("home-triage", "oncology-abroad", "surgical-mission")
CODE = r"^[a-z][a-z0-9_]*$"
SHIPPED_TEXT = (
    N_("Home triage"), N_("Completed follow-up"), N_("Escalated to hospital"), N_("Died"),
    N_("Lost to follow-up"), N_("Withdrew"),
    N_("Oncology treatment abroad"), N_("Destination country"), N_("Tunisia"), N_("Egypt"), N_("Turkey"),
    N_("Germany"), N_("Jordan"), N_("Italy"), N_("Other"), N_("Cancer site"), N_("Branch office"),
    N_("Medical board reference"), N_("Treated"), N_("Returned without treatment"),
    N_("Surgical mission"), N_("Visiting team"), N_("Procedure"), N_("Mission dates"), N_("Operated"),
    N_("Deferred to a later mission"), N_("Referred elsewhere"), N_("Declined"),
)


class Attribute(Record):
    name: str = Field(pattern=CODE)
    label: str = Field(min_length=1)
    required: bool = True
    choices: tuple[str, ...] = ()


class CheckinRule(Record):
    interval_days: int = Field(ge=1, le=366)
    max_days: int = Field(ge=1, le=3660)
    window_days: int = Field(1, ge=1)  # how long after the due day a check-in still counts for it
    ruleset: str

    @model_validator(mode="after")
    def _sound(self) -> "CheckinRule":
        if self.window_days > self.interval_days:
            raise ValueError("window_days must not exceed interval_days: windows would overlap")
        try:
            load_ruleset(self.ruleset)
        except FieldkitError as exc:
            raise ValueError(str(exc)) from None
        return self


class Outcome(Record):
    code: str = Field(pattern=CODE)
    label: str = Field(min_length=1)


class Programme(Record):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: int = Field(ge=1)
    name: str = Field(min_length=1)
    kind: Literal["cohort", "registry", "mission"]
    one_active: bool = False  # a second active enrolment of the same patient is refused
    only_once: bool = False  # a patient is never enrolled again once enrolled
    attributes: tuple[Attribute, ...] = ()
    checkin: CheckinRule | None = None
    outcomes: tuple[Outcome, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Programme":
        for what, names in (("attribute", [a.name for a in self.attributes]), ("outcome", [o.code for o in self.outcomes])):
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ValueError(f"{what} “{twice[0]}” is listed twice")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def plan(self, start: date) -> Plan | None:
        """The check-in schedule of an enrolment whose first check-in is due on `start`."""
        rule = self.checkin
        return None if rule is None else Plan(start, rule.interval_days, rule.max_days, rule.window_days)


def read_programme(path: Path) -> Programme:
    """One programme file, validated; a bad one is one line naming the file and the problem."""
    try:
        return Programme.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FieldkitError(f"{path.name}: {exc}") from None
    except ValidationError as exc:
        raise FieldkitError(f"{path.name}: {first_problem(exc)}") from None


def load_programmes(site_dir: Path | None = None) -> dict[str, Programme]:
    """The shipped programmes and a site's own: every `*.toml` in `site_dir`, a folder that holds
    programmes only (its data directory's other tables stay out); a missing folder is none."""
    shipped = [SHIPPED_DIR / f"{name}.toml" for name in SHIPPED]
    site = sorted(site_dir.glob("*.toml")) if site_dir is not None and site_dir.is_dir() else []
    found: dict[str, tuple[Programme, Path]] = {}
    for path in [*shipped, *site]:
        programme = read_programme(path)
        if programme.id in found:
            held, source = found[programme.id]
            if programme.version == held.version and programme != held:
                raise FieldkitError(f"{path.name}: programme “{programme.id}” version {programme.version} differs "
                                    f"from the one in {source.name}; give the changed one a higher version")
            if programme.version <= held.version:
                continue
        found[programme.id] = (programme, path)
    return {key: programme for key, (programme, _path) in found.items()}


def _fold(text: str) -> str:
    return clean_text(text).casefold()


def check_attributes(programme: Programme, values: Mapping[str, str]) -> dict[str, str]:
    """An enrolment's attributes, cleaned, in the programme's order, or every problem on one line.

    A blank value is no value. A choice may be typed in any case, in English or as translated;
    the canonical (English) choice is what is kept.
    """
    known = {attribute.name: attribute for attribute in programme.attributes}
    given = {clean_text(name): clean_text(value or "") for name, value in values.items() if clean_text(value or "")}
    problems = [_("“{name}” is not an attribute of {programme}").format(name=name, programme=_(programme.name))
                for name in given if name not in known]
    cleaned: dict[str, str] = {}
    for name, attribute in known.items():
        value = given.get(name)
        if value is None:
            if attribute.required:
                problems.append(_("{label} is required").format(label=_(attribute.label)))
            continue
        if attribute.choices:
            match = [choice for choice in attribute.choices if _fold(value) in (_fold(choice), _fold(_(choice)))]
            if not match:
                problems.append(_("{label}: “{value}” is not one of: {choices}").format(
                    label=_(attribute.label), value=value, choices=", ".join(_(choice) for choice in attribute.choices)))
                continue
            value = match[0]
        cleaned[name] = value
    if problems:
        raise FieldkitError("; ".join(problems))
    return cleaned


def check_outcome(programme: Programme, code: str) -> str:
    """The outcome code an enrolment is closed with, as the programme spells it."""
    for outcome in programme.outcomes:
        if _fold(code) in (outcome.code, _fold(outcome.label), _fold(_(outcome.label))):
            return outcome.code
    raise FieldkitError(_("“{code}” is not an outcome of {programme} (one of: {codes})").format(
        code=clean_text(code), programme=_(programme.name), codes=", ".join(o.code for o in programme.outcomes)))

