"""Lab results on the clinic screen: the form that records one (the chart's F6), and one result with
its whole history (Enter on a result in the chart).

The form offers the tests of the test table (records/lab_codes), then what that test takes: a
typed quantity and one of its units (never a unit typed freely), or one of its coded answers. A
refusal is one line under the form, in the user's language, and nothing is saved; once saved,
the result is said back with the interpretation it was given. A result is never changed in
place: F3 on the result screen corrects it (the new value and why), F4 marks it entered in
error; its history keeps every value it had, with who and when.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, digits, moment
from fieldkit.permissions import Write, may_write
from fieldkit.records.lab_codes import ANSWER_INTERPRETATION, ANSWER_WORDS, INTERPRETATIONS, LabTest, tests
from fieldkit.records.labs import MOVES, STATUS_LABELS
from fieldkit.tui.ask import Ask
from fieldkit.tui.base import ClinicScreen, ReadingScreen, background
from fieldkit.tui.commands import ScreenActions
from fieldkit.tui.enrolment import today_typed
from fieldkit.tui.referral_event import DIALOG_CSS, Dialog
from fieldkit.tui.status import StatusBar

# Statuses that say the value shown is not the one first reported, or not a result at all.
MARKS = {"corrected": N_("[CORRECTED]"), "entered-in-error": N_("[ENTERED IN ERROR]"), "cancelled": N_("[CANCELLED]")}


def test_name(result: dict[str, Any]) -> str:
    """The test as staff call it; a quarantined row's results name it by code only."""
    known = result.get("test_name") or getattr(tests().get(result["test"]), "name", result["test"])
    return _(known)


def reading(result: dict[str, Any]) -> str:
    """What the lab reported: a quantity with its unit (as reported, in the reader's digits; a
    limit such as "<2" with its sign), an answer in the reader's words, or text."""
    if result.get("coded"):
        return _(ANSWER_WORDS.get(result["coded"], result["coded"]))
    if result.get("value") not in (None, ""):
        limit = result.get("comparator") or ""
        return f"{limit}{digits(str(result['value']))} {result.get('unit') or ''}".rstrip()
    return result.get("text") or ""


def interpretation(result: dict[str, Any]) -> str:
    """The interpretation in words; none where a coded answer already says it ("positive")."""
    code = result.get("interpretation") or ""
    if not code or ANSWER_INTERPRETATION.get(result.get("coded") or "") == code:
        return ""
    return _(INTERPRETATIONS.get(code, code))


def status_text(status: str) -> str:
    return _(MARKS[status]) if status in MARKS else _(STATUS_LABELS.get(status, status))


def result_line(result: dict[str, Any], mark: str = "") -> str:
    """One result as the chart lists it: day, test, reading, interpretation, status."""
    parts = [day(result["collected"]), test_name(result), reading(result), interpretation(result),
             status_text(result["status"])]
    line = "  ".join(part for part in parts if part)
    return f"{mark} {line}" if mark else line


def range_text(result: dict[str, Any]) -> str:
    low, high = result.get("range_low"), result.get("range_high")
    if low is not None and high is not None:
        return digits(f"{low}–{high}")
    if low is not None:
        return "≥ " + digits(str(low))
    if high is not None:
        return "≤ " + digits(str(high))
    return result.get("range_text") or ""


def details(result: dict[str, Any]) -> str:
    lines = ["  ".join(part for part in (reading(result), interpretation(result), status_text(result["status"]))
                       if part)]
    if shown := range_text(result):
        lines.append(_("Reference range: {range}").format(range=shown))
    taken = _("Collected {day}").format(day=day(result["collected"]))
    if result.get("issued"):
        taken += " · " + _("issued {day}").format(day=day(result["issued"]))
    lines.append(taken)
    where = [part for part in (result.get("lab"), _("sample {id}").format(id=result["sample_id"])
                               if result.get("sample_id") else "") if part]
    if where:
        lines.append(" · ".join(where))
    lines.append(_("LOINC {code}").format(code=result.get("loinc") or "-"))
    if result.get("import_id"):
        lines.append(_("From a lab's file (import {id})").format(id=result["import_id"]))
    if result.get("note"):
        lines.append(_("Note: {note}").format(note=result["note"]))
    return "\n".join(lines)


def history_lines(steps: list[dict[str, Any]]) -> str:
    """Every value the result had, oldest first: when, who, status, the reading then, why."""
    lines = []
    for step in steps:
        line = "  ".join(part for part in (moment(step["at"][:16]), step["author_name"], status_text(step["status"] or ""),
                                           reading(step)) if part)
        lines.append(line + (f"  ({step['note']})" if step.get("note") else ""))
    return "\n".join(lines)


class ReadingFields(Vertical):
    """What a test takes, as fields: a typed quantity or text and the test's units to choose from,
    or its answers to choose from. `show(test)` fits them to the test chosen."""

    DEFAULT_CSS = """
    ReadingFields { height: auto; }
    ReadingFields Horizontal { height: 1; }
    ReadingFields Label { width: 20; }
    ReadingFields Input, ReadingFields Select { width: 30; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test: LabTest | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="value-row"):
            yield Label(_("Result"))
            yield Input(id="value", compact=True)
            yield Select([], id="answer", prompt=_("choose…"), compact=True)
        with Horizontal(id="unit-row"):
            yield Label(_("Unit"))
            yield Select([], id="unit", prompt=_("choose…"), compact=True)

    def show(self, test: LabTest | None) -> None:
        self.test = test
        coded = test is not None and test.kind == "coded"
        self.query_one("#value", Input).display = not coded
        answers = self.query_one("#answer", Select)
        answers.display = coded
        answers.set_options([(_(ANSWER_WORDS[code]), code) for code in (test.answers if coded and test else ())])
        units = test.units if test is not None else ()
        self.query_one("#unit-row").display = bool(units)
        if units:
            chooser = self.query_one("#unit", Select)
            chooser.set_options([(Text(unit), unit) for unit in units])  # "m[IU]/mL" is not markup
            chooser.value = units[0]

    def value(self) -> str:
        """The reading chosen or typed; a coded test's answer must be chosen."""
        if self.test is not None and self.test.kind == "coded":
            chosen = self.query_one("#answer", Select).value
            if not isinstance(chosen, str):
                raise FieldkitError(_("choose the result: one of the test's answers"))
            return chosen
        return self.query_one("#value", Input).value

    def unit(self) -> str:
        chosen = self.query_one("#unit", Select).value
        return chosen if self.test is not None and self.test.units and isinstance(chosen, str) else ""

    def focus_value(self) -> None:
        coded = self.test is not None and self.test.kind == "coded"
        self.query_one("#answer" if coded else "#value").focus()


class LabResultForm(ClinicScreen):
    """One result typed for a patient; F2 saves, and the interpretation is said back."""

    DEFAULT_CSS = """
    #lab-form { height: 1fr; padding: 0 1; }
    #lab-form Horizontal { height: 1; }
    #lab-form Label { width: 20; }
    #lab-form Input, #lab-form Select { width: 30; }
    #lab-form #test { width: 40; }
    #lab-range { color: $text-muted; height: auto; }
    #lab-error { width: 100%; height: auto; }
    #lab-saved { height: auto; padding: 0 1; text-style: bold; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, patient_id: str, patient_name: str) -> None:
        super().__init__()
        self.patient_id, self.patient_name = patient_id, patient_name
        self.tests: dict[str, LabTest] = {}
        self.saved: dict[str, Any] | None = None  # what was saved last: F2 again on it would save it twice

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="lab-form"):
            yield Static(_("Lab result for {patient}").format(patient=self.patient_name), classes="title")
            with Horizontal():
                yield Label(_("Test"))
                yield Select([], id="test", prompt=_("choose a test (type its name)"), compact=True)
            yield ReadingFields(id="reading")
            yield Static("", id="lab-range", markup=False)
            with Horizontal():
                yield Label(_("Collected"))
                yield Input(today_typed(), id="collected", compact=True)
            with Horizontal():
                yield Label(_("Lab"))
                yield Input(id="lab", compact=True)
            with Horizontal():
                yield Label(_("Sample id"))
                yield Input(id="sample_id", compact=True)
        yield Label("", id="lab-error", classes="error", markup=False)  # a refusal quotes what was typed
        yield Static("", id="lab-saved", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ReadingFields).show(None)
        self.query_one("#test").focus()
        self.load()

    @background(group="tests")
    async def load(self) -> None:
        self.tests = await self.desk.lab_tests()
        self.query_one("#test", Select).set_options((_(test.name), code) for code, test in self.tests.items())

    @on(Select.Changed, "#test")
    def chosen(self, event: Select.Changed) -> None:
        test = self.tests.get(event.value) if isinstance(event.value, str) else None
        self.query_one(ReadingFields).show(test)
        ranges = [f"{unit} {range_text({'range_low': r.low, 'range_high': r.high, 'range_text': r.text})}"
                  for unit, r in (test.range.items() if test else ())]
        self.query_one("#lab-range", Static).update(
            _("Reference range: {range}").format(range="; ".join(ranges)) if ranges else "")
        if test is not None:
            self.query_one(ReadingFields).focus_value()

    def data(self) -> dict[str, Any]:
        chosen = self.query_one("#test", Select).value
        if not isinstance(chosen, str):
            raise FieldkitError(_("choose a test"))
        fields = self.query_one(ReadingFields)
        return {"patient_id": self.patient_id, "test": chosen, "value": fields.value(), "unit": fields.unit(),
                **{name: self.query_one(f"#{name}", Input).value for name in ("collected", "lab", "sample_id")}}

    def said(self, line: str) -> None:
        self.query_one("#lab-error", Label).update(line)

    def action_save(self) -> None:
        try:
            data = self.data()
        except FieldkitError as exc:
            self.said(str(exc))
            return
        if data == self.saved:
            self.said(_("This result is saved already: change it to record another, or Esc to go back."))
            return
        self.save(data)

    @background(exclusive=True, group="save")
    async def save(self, data: dict[str, Any]) -> None:
        try:
            result = await self.desk.record_lab_result(data)
        except FieldkitError as exc:
            self.said(_(str(exc)))
            return
        self.saved = data
        self.said("")
        code = result.get("interpretation") or ""
        meaning = _(INTERPRETATIONS.get(code, code)) if code else _("no interpretation (no reference range)")
        self.query_one("#lab-saved", Static).update(_("Saved: {test} {reading}: {meaning}").format(
            test=test_name(result), reading=reading(result), meaning=meaning))


ACTIONS = (
    (N_("Correct this result"), N_("the new value and why; the old one stays in the history (F3)"), "correct"),
    (N_("Entered in error"), N_("the result was never this patient's; it stays, marked (F4)"), "entered_in_error"),
)


class ResultActions(ScreenActions):
    ACTIONS = ACTIONS


class ResultScreen(ReadingScreen):
    """One result and its history; F3 corrects it, F4 marks it entered in error."""

    COMMANDS = {ResultActions}
    DEFAULT_CSS = """
    #result { height: 1fr; padding: 0 1; }
    #result .title { padding: 0; margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("f3", "correct", N_("Correct"), id="correct-result"),
        Binding("f4", "entered_in_error", N_("Entered in error"), id="result-in-error"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, result_id: str, patient_name: str = "") -> None:
        super().__init__()
        self.result_id, self.patient_name = result_id, patient_name
        self.result: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("opening…"), id="result-title", classes="title", markup=False)
        with VerticalScroll(id="result"):
            yield Static(id="result-details", markup=False)
            yield Static(_("History"), classes="title")
            yield Static(id="result-history", markup=False)
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        self.result, self.history = await self.desk.lab_result(self.result_id)
        title = test_name(self.result) + (f" · {self.patient_name}" if self.patient_name else "")
        self.query_one("#result-title", Static).update(title)
        self.query_one("#result-details", Static).update(details(self.result))
        self.query_one("#result-history", Static).update(history_lines(self.history))
        self.query_one("#result").focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("correct", "entered_in_error"):
            move = "correct" if action == "correct" else "entered_in_error"
            return (self.result is not None and self.result["status"] in MOVES[move][0]
                    and self.desk.user.role in may_write(Write("lab_result", "update")))
        return True

    def action_correct(self) -> None:
        if self.result is not None:
            self.app.push_screen(CorrectForm(self.result), callback=self._changed)

    def action_entered_in_error(self) -> None:
        self.app.push_screen(Ask(_("Why was this result entered in error? (required; it stays in the record, "
                                   "marked, and no count reads it)"), self._in_error), callback=self._changed)

    async def _in_error(self, reason: str) -> None:
        await self.desk.lab_result_in_error(self.result_id, reason)

    def _changed(self, saved: bool | None) -> None:
        if saved:
            self.notify(_("Saved."))
            self.load()


class CorrectForm(Dialog):
    """A result's new value (and unit) with the reason; dismissed with True once saved."""

    DEFAULT_CSS = DIALOG_CSS.format(name="CorrectForm") + """
    CorrectForm #reason-row { height: 1; margin: 1 0 0 0; }
    CorrectForm #reason-row Label { width: 20; }
    """

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical():
            yield Static(_("Correct {test}: now {reading}").format(test=test_name(self.result),
                                                                   reading=reading(self.result)), classes="title",
                         markup=False)
            yield ReadingFields(id="reading")
            with Horizontal(id="reason-row"):
                yield Label(_("Why"))
                yield Input(id="reason", compact=True, placeholder=_("required, kept with the correction"))
            yield Static("", classes="error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @background(group="tests")
    async def load(self) -> None:
        test = (await self.desk.lab_tests()).get(self.result["test"])
        fields = self.query_one(ReadingFields)
        fields.show(test)
        if self.result.get("unit") and test is not None and self.result["unit"] in test.units:
            self.query_one("#unit", Select).value = self.result["unit"]
        fields.focus_value()

    async def saved(self) -> bool:
        fields = self.query_one(ReadingFields)
        await self.desk.correct_lab_result(self.result["id"], fields.value(), fields.unit() or None,
                                           self.query_one("#reason", Input).value)
        return True
