"""Validation errors in words staff understand: the field's label and the problem, in their language.

Pydantic's own messages ("Input should be a valid date or datetime, invalid character in year")
and field paths (`vitals.temperature_c`) never reach a user. Each error becomes one `Problem`:
where it is (the path, for a screen to put the message beside its field) and one translated line.
The validators' own messages are translated where they are raised, so they pass through as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from fieldkit.i18n import N_, _, digits

# The label of each field a person types, by its name in the models (the last part of its path).
LABELS = {
    "given_name": N_("Given name"), "family_name": N_("Family name"), "other_names": N_("Other names"),
    "sex": N_("Sex"), "birth_date": N_("Birth date"), "phone": N_("Phone"), "identifiers": N_("Identifiers"),
    "locality": N_("Locality"), "allergies": N_("Allergies"), "kind": N_("Encounter kind"),
    "temperature_c": N_("Temperature"), "pulse": N_("Pulse"), "resp_rate": N_("Respiratory rate"),
    "systolic_bp": N_("Systolic BP"), "diastolic_bp": N_("Diastolic BP"), "spo2": N_("SpO2"),
    "on_oxygen": N_("Oxygen"), "avpu": N_("Consciousness"), "weight_kg": N_("Weight"), "height_cm": N_("Height"),
    # the glucose's possible range is checked with its unit, so a refusal there is about the glucose
    "muac_mm": N_("MUAC"), "glucose": N_("Blood glucose"), "glucose_unit": N_("Blood glucose"),
    "code": N_("ICD-10 code"), "text": N_("Text"), "drug": N_("Drug"), "dose": N_("Dose"), "route": N_("Route"),
    "frequency": N_("Frequency"), "duration_days": N_("Days"), "to_facility": N_("Refer to"),
    "reason": N_("Reason"), "urgency": N_("Urgency"), "due": N_("Follow-up date"), "notes": N_("Notes"),
    "referral": N_("Referral"), "follow_up": N_("Follow-up"), "vitals": N_("Vital signs"),
}
# A numbered item of a list: "Diagnosis 2: …", "Prescription 1: …".
ITEMS = {"diagnoses": N_("Diagnosis {n}"), "prescriptions": N_("Prescription {n}"),
         "allergies": N_("Allergy {n}"), "identifiers": N_("Identifier {n}")}
# Pydantic's error types, said in words; anything not listed is "not valid", never pydantic's English.
MESSAGES = {
    "missing": N_("is required"), "string_too_short": N_("is required"),
    "string_too_long": N_("is too long (at most {max_length} characters)"),
    "too_long": N_("has too many items (at most {max_length})"),
    "literal_error": N_("“{input}” is not one of: {expected}"),
    "int_parsing": N_("“{input}” is not a number"), "float_parsing": N_("“{input}” is not a number"),
    "int_from_float": N_("“{input}” is not a whole number"), "int_type": N_("“{input}” is not a number"),
    "float_type": N_("“{input}” is not a number"),
    "greater_than_equal": N_("must be at least {ge}"), "less_than_equal": N_("must be at most {le}"),
    "greater_than": N_("must be more than {gt}"), "less_than": N_("must be less than {lt}"),
    "date_parsing": N_("“{input}” is not a date"), "date_from_datetime_parsing": N_("“{input}” is not a date"),
    "date_type": N_("“{input}” is not a date"), "bool_parsing": N_("must be yes or no"),
    "extra_forbidden": N_("is not a field of this record"),
}


@dataclass(frozen=True)
class Problem:
    where: tuple[str | int, ...]  # the field's path in the model, for a screen to find the field
    text: str  # one line, translated: "Temperature: 52 °C is not possible (allowed 25–45 °C)"


def label(where: tuple[str | int, ...]) -> str:
    """The field at `where` as a person calls it: "Temperature", "Diagnosis 2, ICD-10 code"."""
    parts: list[str] = []
    for index, part in enumerate(where):
        following = where[index + 1] if index + 1 < len(where) else None
        if isinstance(part, str) and part in ITEMS and isinstance(following, int):
            parts.append(_(ITEMS[part]).format(n=digits(str(following + 1))))
        elif isinstance(part, str) and following is None and part in LABELS:
            parts.append(_(LABELS[part]))
    return ", ".join(parts)


def _message(error: Any) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])  # our validators' own words, translated where raised
    if kind not in MESSAGES:
        return _("is not valid")
    given = error.get("input")
    expected = context.get("expected", "")
    return _(MESSAGES[kind]).format(**{**{k: digits(str(v)) for k, v in context.items()},
                                     "input": given if isinstance(given, str) else digits(str(given)),
                                     "expected": expected.replace("'", "")})


def problems(exc: ValidationError) -> list[Problem]:
    found = []
    for error in exc.errors():
        where = tuple(error["loc"])
        name = label(where)
        found.append(Problem(where, f"{name}: {_message(error)}" if name else _message(error)))
    return found


def check(model: type[BaseModel], data: Any) -> tuple[Any, list[Problem]]:
    """The validated record and no problems, or None and every problem: for a screen that puts
    each beside its field before anything is sent to be saved."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems(exc)


def describe_error(exc: ValidationError) -> str:
    """The whole refusal as one line: `Label: problem; other label: problem`."""
    return "; ".join(problem.text for problem in problems(exc))
