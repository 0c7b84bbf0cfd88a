"""Walks over fhir.resources' R4B models, to hold the binding table to what the models say."""

from __future__ import annotations

import re
import sys

import pydantic


def code_elements(model: pydantic.BaseModel, path: str = "") -> set[str]:
    """Paths of the `code`-typed primitives set in a validated resource (FHIR's required bindings)."""
    found = set()
    for name in model.model_fields_set:
        info = type(model).model_fields[name]
        value = getattr(model, name)
        where = f"{path}.{info.alias or name}" if path else info.alias or name
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, pydantic.BaseModel):
                found |= code_elements(item, where)
            elif "Code()" in str(info.annotation) and name != "resource_type":
                found.add(where)
    return found


def model_field(model, keys):
    """A model's field by its path of element names, through its backbone elements (Patient.link...)."""
    info = {field.alias or name: field for name, field in model.model_fields.items()}[keys[0]]
    if len(keys) == 1:
        return info
    part = re.search(r"(\w+)Type\b", str(info.annotation))[1]
    return model_field(getattr(sys.modules[model.__module__], part), keys[1:])
