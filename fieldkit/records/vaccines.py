"""The vaccines a record can name: a local code, with the ICD-11, ATC and WHO PreQual codes an export
needs, what it protects against, and the route, site and dose the form offers first.

fieldkit ships a table (`programme_data/vaccines.toml`); a site adds its own, or replaces one by
its code, in `vaccines.toml` in its data directory. A record stores the local code only, so a
code added later to the table reaches old records too.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, ValidationError

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.records import site
from fieldkit.records.alerts import first_problem
from fieldkit.records.models import Record
from fieldkit.text import clean_text

SITE_FILE = "vaccines.toml"
# One spelling of each code system, used by every export (WHO's own repositories also spell the
# PreQual one `…PreQualProductIDs`; this is the IG's CodeSystem canonical).
PREQUAL_SYSTEM = "http://smart.who.int/pcmt-vaxprequal/CodeSystem/PreQualProductIds"
ICD11_SYSTEM = "http://id.who.int/icd/release/11/mms"
ATC_SYSTEM = "http://www.whocc.no/atc"

Route = Literal["intramuscular", "subcutaneous", "intradermal", "oral"]
Site = Literal["left arm", "right arm", "left thigh", "right thigh", "mouth"]
ROUTES: tuple[str, ...] = get_args(Route)
SITES: tuple[str, ...] = get_args(Site)
# The shipped table's words, for the catalogue extractor (a test keeps it in step with the file).
SHIPPED_TEXT = (
    N_("Hepatitis B vaccine (adult)"), N_("BCG"), N_("Oral polio vaccine, bivalent (bOPV)"),
    N_("Inactivated polio vaccine (IPV)"), N_("Pentavalent (DTP-HepB-Hib)"), N_("Pneumococcal conjugate vaccine (PCV)"),
    N_("Rotavirus vaccine"), N_("Measles-rubella (MR)"),
    N_("intramuscular"), N_("subcutaneous"), N_("intradermal"), N_("oral"),
    N_("left arm"), N_("right arm"), N_("left thigh"), N_("right thigh"), N_("mouth"),
)


class Vaccine(Record):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str = Field(min_length=1)
    icd11: str = ""
    atc: str = ""
    prequal: tuple[str, ...] = ()
    target_disease: tuple[str, ...] = Field(min_length=1)
    route: Route | None = None
    site: Site | None = None
    dose_quantity: float | None = Field(None, gt=0)
    dose_unit: str = ""


def _read(text: str, where: str) -> dict[str, Vaccine]:
    try:
        rows = tomllib.loads(text).get("vaccine", [])
        found = [Vaccine.model_validate(row) for row in rows]
    except tomllib.TOMLDecodeError as exc:
        raise FieldkitError(f"{where}: {exc}") from None
    except ValidationError as exc:
        raise FieldkitError(f"{where}: {first_problem(exc)}") from None
    codes = [v.code for v in found]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        raise FieldkitError(f"{where}: vaccine “{twice[0]}” is listed twice")
    return {v.code: v for v in found}


@site.table
def vaccines() -> dict[str, Vaccine]:
    """The shipped table and the site's, read once per process (records/site.py)."""
    shipped = resources.files("fieldkit.records").joinpath("programme_data", SITE_FILE)
    found = _read(shipped.read_text(encoding="utf-8"), SITE_FILE)
    own: Path | None = own_dir / SITE_FILE if (own_dir := site.directory()) else None
    if own and own.is_file():
        found |= _read(own.read_text(encoding="utf-8"), str(own))
    return found


def vaccine(typed: str) -> Vaccine:
    """The vaccine a user means by its code or its name (in any case, in English or as translated)."""
    wanted = clean_text(typed).casefold()
    found = vaccines()
    for v in found.values():
        if wanted in (v.code, v.name.casefold(), _(v.name).casefold()):
            return v
    raise FieldkitError(_("no vaccine “{code}” (known: {known})").format(code=clean_text(typed), known=", ".join(found)))
