"""The hub's pages under /ui, on their own port (hub/app.py `create_pages_app`): sign-in, the
laptops registry, and the reports (read-only).

Every request passes `secured` first: it finds the session from the cookie, refuses a form posted
without this session's CSRF token or from another origin (403), sends anyone not signed in to the
sign-in page, and puts the security headers on whatever goes back. Pages are rendered in the
session's language, on the event loop (fieldkit.i18n's language is process-wide: never across an
await), after the data they show was read in a thread.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from fieldkit import i18n
from fieldkit.errors import FieldkitError
from fieldkit.hub import report_files, reports
from fieldkit.hub.app import REASON, send_report
from fieldkit.hub.settings import HubSettings
from fieldkit.hub.storage import HubStorage
from fieldkit.hub.web import chart
from fieldkit.hub.web.operators import MAX_PASSWORD, Operators
from fieldkit.hub.web.sessions import FAILURES, WINDOW, Session, Sessions, Throttle
from fieldkit.i18n import LANGUAGES, N_, _, moment, ngettext, number, right_to_left, using_language

HERE = Path(__file__).parent
# `__Host-` makes the browser keep the cookie only if it came over HTTPS from this very host, with
# no Domain and Path=/: no other site, subdomain or plain-HTTP page on the LAN can set or shadow it.
# That prefix requires Path=/, so the cookie also goes with requests outside /ui, where nothing reads it:
# the sync routes know laptops by their certificates only. A path never separated pages of one origin anyway.
COOKIE = "__Host-fieldkit-session"
FORM_LIMIT = 64 * 1024  # the pages' port reads no bigger body (aiohttp's client_max_size): no form here is bigger
HASHES_AT_ONCE = 2  # each Argon2id check takes 64 MiB: a burst of sign-ins queues instead of exhausting memory
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
PUBLIC = {"login", "sign_in", "language", "static", "home"}  # routes that need no signed-in operator

SECURITY_HEADERS = {
    # No script at all, from anywhere; styles from the hub's own stylesheet only; no framing.
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers older than CSP 2
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

STORAGE = web.AppKey("web_storage", HubStorage)
SETTINGS = web.AppKey("web_settings", HubSettings)
OPERATORS = web.AppKey("operators", Operators)
SESSIONS = web.AppKey("sessions", Sessions)
THROTTLE = web.AppKey("throttle", Throttle)
HASHING = web.AppKey("hashing", asyncio.Semaphore)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
SESSION = web.RequestKey("session", Session)


class Refused(Exception):
    """A form that did not come from this session's page: nothing is done (403)."""


# -- rendering ---------------------------------------------------------------------------------------

def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    # Looked up as each page renders, in the language `render` set: translations are text, escaped like any.
    env.globals.update(_=_, ngettext=ngettext, languages=LANGUAGES)
    env.filters.update(number=number, moment=moment, month=month)
    return env


def month(value: str) -> str:
    """A report's month (YYYY-MM) as the page's language names it ("Dec 2026", "ديسمبر ٢٠٢٦"); other
    values (a blank month's group) as they are. A Gregorian month in every language: the report
    counts by Gregorian month, which no month of another calendar matches."""
    from babel.dates import format_date

    if not MONTH.fullmatch(value):
        return value
    return i18n.digits(format_date(date(int(value[:4]), int(value[5:]), 1), "MMM y", locale=i18n.LOCALES[i18n.language()]))


def preferred(request: web.Request) -> str:
    """The first of the browser's languages (Accept-Language) the hub speaks; English otherwise."""
    weighted = []
    for index, part in enumerate(request.headers.get("Accept-Language", "").split(",")[:20]):
        tag, _semicolon, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        weighted.append((-weight, index, tag.split("-")[0].lower()))
    return next((tag for *_order, tag in sorted(weighted) if tag in LANGUAGES), "en")


def render(request: web.Request, template: str, *, status: int = 200, **values: Any) -> web.Response:
    session = request.get(SESSION)
    language = session.language if session else preferred(request)
    with using_language(language):
        html = request.app[TEMPLATES].get_template(template).render(
            lang=language, rtl=right_to_left(language), csrf=session.csrf if session else "",
            operator=session.operator if session else None, here=request.path_qs, **{"section": "", **values})
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"  # names and counts must not stay in a browser's cache
    return response


def problem(request: web.Request, status: int, title: str, text: str) -> web.Response:
    """A page saying why not; `title` and `text` are marked with N_ and translated as the page renders."""
    return render(request, "problem.html", status=status, title=title, problem=text)


def redirect(location: str) -> web.Response:
    # 303: after a form, the browser fetches the next page with GET, so a reload posts nothing twice.
    return web.Response(status=303, headers={"Location": location})


def with_session(response: web.StreamResponse, session: Session) -> web.StreamResponse:
    response.set_cookie(COOKIE, session.token, path="/", secure=True, httponly=True, samesite="Strict")
    return response


# -- the guard ---------------------------------------------------------------------------------------

def same_origin(request: web.Request) -> bool:
    """Whether a form post came from one of this hub's own pages. Browsers say so in `Origin`; under
    this site's Referrer-Policy no-referrer, Chromium sends `Origin: null` instead, and then its
    `Sec-Fetch-Site`, which no page can set, must say same-origin."""
    origin = request.headers.get("Origin")
    if origin == str(request.url.origin()):
        return True
    return origin == "null" and request.headers.get("Sec-Fetch-Site") == "same-origin"


async def check_form(request: web.Request, session: Session | None) -> None:
    if not same_origin(request):
        raise Refused("a form posted from another origin")
    form = await request.post()
    given = form.get("csrf")
    if session is None or not isinstance(given, str) or not session.csrf_matches(given):
        raise Refused("a form without this session's token")


@web.middleware
async def secured(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    token, route = request.cookies.get(COOKIE), request.match_info.route.name
    # A stylesheet needs no session, and fetching one must not keep a session alive.
    session = await asyncio.to_thread(request.app[SESSIONS].find, token) if token and route != "static" else None
    if session is not None:
        request[SESSION] = session
    response: web.StreamResponse
    try:
        if request.method == "POST":
            await check_form(request, session)
        if route not in PUBLIC and request.match_info.http_exception is None and (session is None or not session.operator):
            response = redirect("/ui/login")
        else:
            response = await handler(request)
    except Refused as exc:
        response = problem(request, 403, N_("Refused"),
                           N_("This form had expired or came from another site: open the page again and retry."))
        reason(response, str(exc))
    except web.HTTPException as exc:
        if 300 <= exc.status < 400:
            response = redirect(exc.headers["Location"])
        elif exc.status == 404:
            response = problem(request, 404, N_("Not found"), N_("There is no such page on this hub."))
        else:
            response = problem(request, exc.status, N_("Refused"), N_("The hub cannot answer this request."))
    return response


def reason(response: web.StreamResponse, why: str) -> None:
    """Say why in the hub's log line for this request (ASVS 16.3.1: every sign-in, and every refusal)."""
    response[REASON] = why


# -- sign-in, sign-out, language ---------------------------------------------------------------------

async def home(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    return redirect("/ui/laptops" if session and session.operator else "/ui/login")


async def login(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session and session.operator:
        return redirect("/ui/laptops")
    fresh = None
    if session is None:  # the form's own session, whose token the form carries
        fresh = request[SESSION] = await asyncio.to_thread(request.app[SESSIONS].start, preferred(request))
    response = render(request, "login.html", name="", failed=False)
    return with_session(response, fresh) if fresh else response


async def sign_in(request: web.Request) -> web.StreamResponse:
    app, form, pre = request.app, await request.post(), request[SESSION]
    name, password = str(form.get("name", "")).strip()[:200], str(form.get("password", ""))[:MAX_PASSWORD + 1]
    address = request.remote or ""
    operator = None
    blocked = await asyncio.to_thread(app[THROTTLE].blocked, name, address)
    if not blocked:
        async with app[HASHING]:
            operator = await asyncio.to_thread(app[OPERATORS].verify, name, password)
    if operator is None:
        if not blocked:
            await asyncio.to_thread(app[THROTTLE].failed, name, address)
        response = render(request, "login.html", status=401, name=name, failed=True, failures=FAILURES,
                          minutes=WINDOW // 60)
        reason(response, json.dumps({"sign-in": "failed", "name": name, "throttled": blocked}))
        return response
    sessions = app[SESSIONS]
    await asyncio.to_thread(sessions.end, pre.token)
    session = await asyncio.to_thread(sessions.start, operator.language, operator.name)
    signed_in = with_session(redirect("/ui/laptops"), session)
    reason(signed_in, json.dumps({"sign-in": "succeeded", "name": operator.name}))
    return signed_in


async def sign_out(request: web.Request) -> web.StreamResponse:
    session = request[SESSION]
    await asyncio.to_thread(request.app[SESSIONS].end, session.token)
    response = redirect("/ui/login")
    response.del_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
    reason(response, json.dumps({"sign-out": session.operator}))
    return response


async def choose_language(request: web.Request) -> web.StreamResponse:
    form, session = await request.post(), request[SESSION]
    chosen, back = form.get("language"), str(form.get("back", ""))
    if chosen not in LANGUAGES:
        raise web.HTTPBadRequest()
    assert isinstance(chosen, str)
    await asyncio.to_thread(request.app[SESSIONS].set_language, session.token, chosen)
    if session.operator:  # the operator's choice, for the next sign-in too
        await asyncio.to_thread(request.app[OPERATORS].set_language, session.operator, chosen)
    # Back to the page the form was on, and never anywhere else (no open redirect).
    return redirect(back if back.startswith("/ui/") and not back.startswith("//") else "/ui/")


# -- the laptops -----------------------------------------------------------------------------------------

def registry(storage: HubStorage) -> list[dict[str, Any]]:
    """Every laptop the hub holds entries of or was called by: the ones that called (devices), and
    those whose entries only came relayed by another laptop; each with when it was last heard of,
    the same date the reports' stale-laptops warning reads (HubStorage.heard_from)."""
    called = {row["device"]: row for row in storage.devices()}
    heard, held, revoked = storage.heard_from(), storage.version_vector(), storage.revoked()
    held_back = storage.held_back() if heard.keys() - called.keys() else {}
    now = datetime.now(UTC)
    laptops = []
    for device in sorted(called.keys() | heard.keys()):
        row = called.get(device) or {"device": device, "address": "", "last_contact": None, "uploaded": 0,
                                     "entries_held": held.get(device, 0), "revoked": device in revoked,
                                     "held_back": held_back.get(device, 0)}
        last = heard.get(device) or row["last_contact"]
        row["heard"] = datetime.fromisoformat(last) if last else None
        row["silent_days"] = (now - row["heard"]).days if row["heard"] else None
        laptops.append(row)
    return laptops


async def laptops(request: web.Request) -> web.StreamResponse:
    found = await asyncio.to_thread(registry, request.app[STORAGE])
    return render(request, "laptops.html", section="laptops", laptops=found, stale_days=request.app[SETTINGS].stale_days)


# -- the reports -----------------------------------------------------------------------------------------

PER_PAGE = 100
UNITS = {"patients": N_("patients"), "enrolments": N_("enrolments"), "referrals": N_("referrals"),
         "results": N_("results"), "doses": N_("doses")}
OWN = ("by", "page", "format")  # query parameters the pages read themselves; every other one is a filter


def latest() -> list[reports.Definition]:
    """Each report's latest version, in the order of their ids."""
    return sorted({d.id: reports.definition(d.id) for d in reports.DEFINITIONS.values()}.values(), key=lambda d: d.id)


async def report_list(request: web.Request) -> web.StreamResponse:
    return render(request, "reports.html", section="reports", definitions=latest(), units=UNITS)


def asked(request: web.Request) -> dict[str, str]:
    """The filters of the query: a form sends its empty fields too, and an empty one filters nothing."""
    return {name: value.strip() for name, value in request.query.items() if name not in OWN and value.strip()}


def page_number(request: web.Request) -> int:
    try:
        return max(int(request.query.get("page", "1")), 1)
    except ValueError:
        raise web.HTTPBadRequest() from None


def _definition(request: web.Request) -> reports.Definition:
    try:
        return reports.definition(request.match_info["report"])
    except FieldkitError:
        raise web.HTTPNotFound() from None


def _made(storage: HubStorage, d: reports.Definition, filters: dict[str, str], by: str, page: int,
          stale_days: int) -> dict[str, Any]:
    """Everything a report page shows, read in one thread: a page of the line list (read up to it,
    never whole), the counts by `by`, and the counts by month for the chart."""
    listed = reports.line_list(storage, d.ref, filters, stale_days=stale_days)
    rows = list(islice(listed.rows, (page - 1) * PER_PAGE, page * PER_PAGE))
    return {"listed": listed, "rows": rows, "counted": reports.counts(storage, d.ref, by, filters, stale_days=stale_days),
            "months": reports.over_time(storage, d.ref, filters, stale_days=stale_days)}


async def report_page(request: web.Request) -> web.StreamResponse:
    d, filters, page = _definition(request), asked(request), page_number(request)
    groups = reports.groups(d)
    by = request.query.get("by") or groups[0]
    settings = request.app[SETTINGS]
    values: dict[str, Any] = {
        "section": "reports", "definition": d, "filters": filters, "by": by, "groups": groups, "units": UNITS,
        "filter_names": reports.filters_of(d), "per_page": PER_PAGE, "page": page, "stale_days": settings.stale_days,
        "link": partial(link, request)}
    try:
        made = await asyncio.to_thread(_made, request.app[STORAGE], d, filters, by, page, settings.stale_days)
    except FieldkitError as exc:  # a filter the report does not have, a month not written YYYY-MM
        return render(request, "report.html", status=400, refused=str(exc), **values)
    months = made["months"]
    with using_language(request[SESSION].language):  # the chart's numbers, in the page's digits
        drawn = chart.bars([(month(row["month"]), row["count"]) for row in months.rows],
                           _("{title} by month").format(title=_(d.title)), rtl=right_to_left())
    return render(request, "report.html", refused="", chart=drawn, **made, **values)


def link(request: web.Request, path: str | None = None, **changes: Any) -> str:
    """This page's query at `path` (this page by default), some parameters changed (None removes one)."""
    query = dict(request.query)
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = str(value)
    return str(request.rel_url.with_path(path or request.path).with_query(query))


async def download(request: web.Request) -> web.StreamResponse:
    """The report as a file, streamed as it is read: the whole line list, or the counts when `by` is given."""
    d, filters, flavour = _definition(request), asked(request), request.query.get("format", "")
    if flavour not in report_files.FORMATS:
        raise web.HTTPBadRequest()
    storage, stale_days, by = request.app[STORAGE], request.app[SETTINGS].stale_days, request.query.get("by")
    try:
        made = await asyncio.to_thread(
            lambda: reports.counts(storage, d.ref, by, filters, stale_days=stale_days) if by
            else reports.line_list(storage, d.ref, filters, stale_days=stale_days))
    except FieldkitError:
        raise web.HTTPBadRequest() from None
    return await send_report(request, made, flavour)


# -- the application ---------------------------------------------------------------------------------

async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response of the pages, streamed files too, before its headers leave."""
    response.headers.update(SECURITY_HEADERS)


def application(storage: HubStorage, settings: HubSettings) -> web.Application:
    """The pages, to be mounted at /ui on the hub's application."""
    app = web.Application(middlewares=[secured])
    app[STORAGE], app[SETTINGS], app[OPERATORS] = storage, settings, Operators(storage)
    app[SESSIONS], app[THROTTLE] = Sessions(storage), Throttle(storage)
    app[TEMPLATES], app[HASHING] = templates(), asyncio.Semaphore(HASHES_AT_ONCE)

    async def ready(app: web.Application) -> None:
        # The dummy hash an unknown name is checked against, made now: the first guess must not be quicker.
        await asyncio.to_thread(lambda: app[OPERATORS]._dummy)

    app.on_startup.append(ready)
    app.on_response_prepare.append(secure_headers)
    app.router.add_get("/", home, name="home")
    app.router.add_get("/login", login, name="login")
    app.router.add_post("/login", sign_in, name="sign_in")
    app.router.add_post("/logout", sign_out, name="sign_out")
    app.router.add_post("/language", choose_language, name="language")
    app.router.add_get("/laptops", laptops, name="laptops")
    app.router.add_get("/reports", report_list, name="reports")
    app.router.add_get("/reports/{report}", report_page, name="report")
    app.router.add_get("/reports/{report}/download", download, name="download")
    app.router.add_static("/static", HERE / "static", name="static")
    return app
