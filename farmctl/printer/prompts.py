"""The firmware's questions to a person (``//action:prompt_begin``, ``prompt_button``/``prompt_choice``,
``prompt_show``, ``prompt_end``), assembled as they arrive; the answer goes back as M876 S<n>."""

from __future__ import annotations

from dataclasses import dataclass

from farmctl.errors import FarmctlError

PROMPT_ACTIONS = frozenset({"prompt_begin", "prompt_button", "prompt_choice", "prompt_show", "prompt_end"})


@dataclass(frozen=True, slots=True)
class Prompt:
    """A question the firmware puts to a person through the host (``//action:prompt_*``), answered by M876."""

    text: str
    choices: tuple[str, ...]

    def as_dict(self) -> dict[str, str | list[str]]:
        return {"text": self.text, "choices": list(self.choices)}

    def check_choice(self, choice: int) -> None:
        """400 unless ``choice`` is one of the offered buttons (a prompt with none takes 0)."""
        if not 0 <= choice < max(1, len(self.choices)):
            raise FarmctlError(f"choice {choice} is not one of the {len(self.choices)} offered", 400)


class PromptDraft:
    """Collects a prompt's parts until the firmware shows it."""

    def __init__(self) -> None:
        self._text = ""
        self._choices: list[str] = []

    def heard(self, action: str, argument: str, shown: Prompt | None) -> Prompt | None:
        """The prompt shown after a ``prompt_*`` action (``shown`` when the action does not change it)."""
        if action == "prompt_begin":
            self._text, self._choices = argument, []
        elif action in ("prompt_button", "prompt_choice"):
            self._choices.append(argument)
        elif action == "prompt_show":
            return Prompt(self._text, tuple(self._choices))
        elif action == "prompt_end":
            return None
        return shown
