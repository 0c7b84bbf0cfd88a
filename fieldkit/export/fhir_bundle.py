"""Bundles of an export, and the rules of a Bundle that fhir.resources does not check
(reference/clinical.md E): unique fullUrls (bdl-7), a `request` on every transaction entry and
none on a collection's (bdl-3), every reference resolved inside the bundle.

Two kinds of export. A `collection` is a file handed over (to a directorate, an archive): entries
only. A `transaction` is for a FHIR server: each entry is `PUT Type/id` with fieldkit's stable id, an
idempotent create-or-update, so a bundle sent twice (a retry on a bad link) creates nothing new.
And a `document`, one patient's summary (ips.py): its Composition first, an identifier and a
timestamp of its own, every reference resolved inside it (bdl-9, bdl-10, bdl-11).

Every entry's fullUrl is the absolute `https://fieldkit.example/fhir/Type/id`, in both kinds. FHIR
R4 (bundle.html, "Resource URL & Uniqueness rules") makes fullUrl an absolute URL consistent with
the resource's id, and resolves a relative reference (`Patient/x`) in a resource against the base
of its entry's fullUrl: so the references inside resources stay the plain `Type/id` a server keeps,
and resolve to entries of the same bundle. `urn:uuid:` fullUrls are for resources the server is to
name (POST); with PUT the client's id is the resource's name, and the request url carries it.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pydantic

from fieldkit.errors import FieldkitError
from fieldkit.export import fhir_bindings
from fieldkit.export.fhir_bindings import TYPES, refused
from fieldkit.export.fhir_codes import FHIR_BASE
from fieldkit.i18n import _

KINDS = ("collection", "transaction")  # of an export of records (`write`)
DOCUMENT = "document"
CHUNK = 64 * 1024  # bytes of JSON handed on at a time
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_RELATIVE = re.compile(r"(?P<type>[A-Za-z]+)/[A-Za-z0-9\-.]{1,64}")  # Type/id, an id as FHIR spells one


def full_url(resource: dict[str, Any]) -> str:
    return f"{FHIR_BASE}/{resource['resourceType']}/{resource['id']}"


def entry(resource: dict[str, Any], kind: str) -> dict[str, Any]:
    """A resource as an entry of a bundle of `kind`."""
    found: dict[str, Any] = {"fullUrl": full_url(resource), "resource": resource}
    if kind == "transaction":
        found["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    return found


@functools.cache
def _model(kind: str, module: str = "") -> Any:
    """The R4B model of a resource type (or of a part of one, in its resource's `module`)."""
    return getattr(importlib.import_module(f"fhir.resources.R4B.{module or kind.lower()}"), kind)


def validate_model(resource: dict[str, Any]) -> None:
    """The resource against its R4B model (cardinality, types, formats); FieldkitError naming the
    resource and the first element refused."""
    try:
        _model(resource["resourceType"]).model_validate(resource)
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        raise refused(resource, ".".join(str(step) for step in problem["loc"]), problem["msg"]) from None


class Checker:
    """A bundle's rules, checked entry by entry as a stream goes out; references at `finish`.

    It keeps the fullUrls seen and the references not yet resolved (a reference to an entry still to
    come), never the resources. A complete bundle must resolve every reference in itself. An export
    of what changed since a version (`complete=False`) leaves out what did not change, which the
    receiver already holds: a reference then resolves in the bundle or is a `Type/id` of a type
    fieldkit exports."""

    def __init__(self, kind: str, *, complete: bool = True, validate: bool = True) -> None:
        if kind not in (*KINDS, DOCUMENT):
            raise FieldkitError(_("a bundle is one of {kinds}, not “{kind}”").format(kinds=", ".join((*KINDS, DOCUMENT)),
                                                                                     kind=kind))
        self.kind, self.complete, self.validate = kind, complete or kind == DOCUMENT, validate
        self.urls: set[str] = set()
        self.pending: dict[str, tuple[str, dict[str, Any]]] = {}  # absolute reference -> (as written, resource)

    def add(self, item: dict[str, Any]) -> None:
        resource = item.get("resource")
        if not isinstance(resource, dict):
            raise FieldkitError(_("a bundle entry without a resource"))
        url = item.get("fullUrl")
        if not isinstance(url, str) or not _ABSOLUTE.fullmatch(url):
            raise refused(resource, "fullUrl", _("“{value}” is not an absolute URI").format(value=url))
        if url in self.urls:
            raise refused(resource, "fullUrl", _("“{value}” is in the bundle twice").format(value=url))
        if self.kind == DOCUMENT and not self.urls and resource.get("resourceType") != "Composition":
            raise refused(resource, "resourceType", _("a document's first entry must be its Composition"))
        own = f"{resource.get('resourceType')}/{resource.get('id')}"
        if not url.startswith("urn:") and not url.endswith("/" + own):
            raise refused(resource, "fullUrl", _("“{value}” disagrees with the resource's id").format(value=url))
        request = item.get("request")
        if self.kind == "transaction":
            if not isinstance(request, dict):
                raise refused(resource, "request", _("a transaction entry needs a request"))
            if request.get("method") != "PUT" or request.get("url") != own:
                raise refused(resource, "request", _("must be PUT {url} (an update with fieldkit's id)").format(url=own))
        elif request is not None or "response" in item:
            raise refused(resource, "request", _("a collection entry has no request or response"))
        if self.validate:
            validate_model(resource)
        references = fhir_bindings.references(resource)
        self.urls.add(url)
        self.pending.pop(url, None)
        base = url[:-len(own)] if url.endswith("/" + own) else None
        for reference in references:
            target = reference if _ABSOLUTE.fullmatch(reference) or base is None else base + reference
            if target not in self.urls:
                self.pending.setdefault(target, (reference, resource))

    def finish(self) -> None:
        for reference, resource in self.pending.values():
            found = _RELATIVE.fullmatch(reference)
            if self.complete or not found or found["type"] not in TYPES:
                raise refused(resource, "reference", _("“{value}” is not in the bundle").format(value=reference))


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):  # as reported: 4.50 stays 4.50 (JSON numbers keep their digits)
        return orjson.Fragment(str(value))
    raise TypeError(type(value).__name__)


def dumps(value: Any) -> bytes:
    """JSON as a bundle is written: decimals with the digits they were reported with."""
    return orjson.dumps(value, default=_exact)


def write(resources: Iterable[dict[str, Any]], *, kind: str, complete: bool = True, validate: bool = True,
          counts: Counter[str] | None = None) -> Iterator[bytes]:
    """A Bundle of `kind` (one of KINDS) holding `resources`, as JSON in chunks, each resource checked
    on its way out. The closing bytes come only once the references are resolved: a stream cut by a
    failure is never a well-formed bundle."""
    if kind not in KINDS:
        raise FieldkitError(_("a bundle is one of {kinds}, not “{kind}”").format(kinds=", ".join(KINDS), kind=kind))
    checker = Checker(kind, complete=complete, validate=validate)
    head = {"resourceType": "Bundle", "type": kind,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if validate:
        _model("Bundle").model_validate(head)
    parts = [orjson.dumps(head)[:-1]]
    size, first = 0, True
    for resource in resources:
        item = entry(resource, kind)
        checker.add(item)
        if counts is not None:
            counts[resource["resourceType"]] += 1
        part = (b',"entry":[' if first else b",") + dumps(item)
        first = False
        parts.append(part)
        size += len(part)
        if size >= CHUNK:
            yield b"".join(parts)
            parts, size = [], 0
    checker.finish()
    parts.append(b"}" if first else b"]}")  # no entries: no empty `entry` (FHIR has no empty arrays)
    yield b"".join(parts)


def check_bundle(bundle: dict, *, complete: bool = True, validate: bool = True) -> None:
    """Every rule `write` applies, on a bundle read whole (a file handed in, a test's)."""
    if bundle.get("resourceType") != "Bundle":
        raise FieldkitError(_("not a FHIR Bundle"))
    checker = Checker(str(bundle.get("type")), complete=complete, validate=validate)
    if "entry" in bundle and not bundle["entry"]:
        raise FieldkitError(_("FHIR Bundle entry: an empty element (FHIR elements have a value or children)"))
    if bundle.get("type") == DOCUMENT:
        identifier = bundle.get("identifier") or {}
        if not (identifier.get("system") and identifier.get("value")):
            raise FieldkitError(_("FHIR Bundle identifier: a document needs one, with a system and a value"))
        if not bundle.get("timestamp"):
            raise FieldkitError(_("FHIR Bundle timestamp: a document needs one"))
        if not bundle.get("entry"):
            raise FieldkitError(_("FHIR Bundle entry: a document's first entry must be its Composition"))
    if validate:
        validate_model({key: value for key, value in bundle.items() if key != "entry"})  # its own elements
    for item in bundle.get("entry", ()):
        checker.add(item)
    checker.finish()
