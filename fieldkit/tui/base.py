"""What every screen of the clinic shares: its footer in the user's language, the signed-in desk,
and one way of telling the user that a background job failed.

Binding descriptions are declared in English, marked with `N_` for the catalogue, and translated
when a screen is made: switching language rebuilds the screens, so the footer follows.

Screens run their database work in workers made with `background` (Textual's `work`, with
`exit_on_error=False`): a failure the code did not foresee is shown in one line, in the user's
language, and the clinic screen stays open with everything saved so far.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import work
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from fieldkit.errors import FieldkitError, disk_refused
from fieldkit.i18n import _
from fieldkit.permissions import allowed

if TYPE_CHECKING:
    from textual._work_decorator import Decorator

    from fieldkit.tui.app import FieldkitApp
    from fieldkit.tui.desk import Desk

log = logging.getLogger(__name__)


def background(*, group: str = "default", exclusive: bool = False) -> Decorator[..., Any]:
    """Textual's `work` for a screen's database calls: a failure is shown, not fatal."""
    return work(group=group, exclusive=exclusive, exit_on_error=False)


def clinic_app(node: Any) -> FieldkitApp:
    """The running clinic app of a screen, widget or command provider, with its own attributes
    (Textual types `node.app` as any App)."""
    return cast("FieldkitApp", node.app)


def failure_text(error: BaseException) -> str:
    if isinstance(error, FieldkitError):
        return _(str(error))
    refused = disk_refused(error)
    if refused == "full":
        return _("The disk is full, so that was not saved; what is on screen is kept. Free some space, then save again.")
    if refused == "failed":
        return _("The disk could not be written (is it full?), so that was not saved; what is on screen is kept. "
                 "Free some space, then save again.")
    return _("Something went wrong and that action did not finish ({kind}). What was saved before is kept.").format(
        kind=type(error).__name__)


def report_failure(node: MessagePump, event: Worker.StateChanged) -> None:
    """The one handler of failed workers, for the app and every screen."""
    if event.state is WorkerState.ERROR and event.worker.error is not None:
        error = event.worker.error
        log.error("worker %s failed", event.worker.name, exc_info=error)
        node.app.notify(failure_text(error), severity="error", timeout=10)


class Translated:
    """Mix into a Screen (first in the bases) to show its footer in the current language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keys = self._bindings.key_to_bindings  # type: ignore[attr-defined]
        for key, bindings in keys.items():
            keys[key] = [replace(b, description=_(b.description)) if b.description else b for b in bindings]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failure(self, event)  # type: ignore[arg-type]

    @property
    def desk(self) -> Desk:
        return clinic_app(self).signed_in_desk


class ClinicScreen(Translated, Screen):
    """A screen of the clinic."""


class ReadingScreen(ClinicScreen):
    """A screen that reads what it shows when it opens, and again each time it is back on top
    (what was done on a screen above it may have changed it). It defines `load`, a worker."""

    def load(self) -> object:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        self.load()


class RoleScreen(ClinicScreen):
    """A screen for one action of `permissions.ACTIONS`: the app asks it before opening it, and it
    refuses itself if pushed for someone who may not use it."""

    ACTION: ClassVar[str]
    REFUSAL: ClassVar[str]  # marked with N_, said with _

    @classmethod
    def allows(cls, role: str) -> bool:
        return allowed(role, cls.ACTION)

    def refused(self) -> bool:
        """True, with the refusal said and the screen gone, unless the signed-in user may use it."""
        if self.allows(self.desk.user.role):
            return False
        self.notify(_(self.REFUSAL), severity="warning")
        self.dismiss()
        return True
