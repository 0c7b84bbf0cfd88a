"""What screens tell the app: where the user wants to go, and what they chose. Screens post these;
the app alone moves between screens and keeps the laptop's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from fieldkit.store.keystore import User
    from fieldkit.tui.desk import Desk
    from fieldkit.tui.pin import Pin


class OpenChart(Message):
    """Show a patient's chart; `instead` of the screen that asks (a form just saved), or on top."""

    def __init__(self, patient_id: str, *, instead: bool = False) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.instead = instead


class OpenEncounter(Message):
    """Record an encounter for the patient whose chart (`record`) is open."""

    def __init__(self, patient_id: str, record: dict[str, Any]) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.record = record


class OpenRegistration(Message):
    """Register a patient, starting from what was typed in the search box."""

    def __init__(self, typed: str = "") -> None:
        super().__init__()
        self.typed = typed


class SignedIn(Message):
    """Someone signed in (or created the clinic): the app opens its screens for them."""

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk


class RoleChanged(Message):
    """The signed-in user's own role changed (a supervisor stepped down)."""

    def __init__(self, user: User) -> None:
        super().__init__()
        self.user = user


class LanguageChosen(Message):
    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language


class RtlChosen(Message):
    """How right-to-left text is drawn on this laptop's terminal (rtl.MODES)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode


class LockAfterChosen(Message):
    def __init__(self, minutes: int) -> None:
        super().__init__()
        self.minutes = minutes


class PinChosen(Message):
    """A PIN that unlocks the lock screen until the app closes (checked by the screen that asked)."""

    def __init__(self, pin: Pin) -> None:
        super().__init__()
        self.pin = pin
