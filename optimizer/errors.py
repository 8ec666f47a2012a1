"""Errors the optimizer raises on purpose, each carrying what a user needs to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One broken rule: where (field path) and what (the rule)."""

    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.rule}"


class InputError(Exception):
    """Bad input: an instance that cannot be read or breaks a validation rule.

    ``source`` names the file (or ``<dict>`` for in-memory input); ``issues`` lists every
    rule broken, each with its field path, e.g. ``hardware[2].performance.chat.decode[1]``.
    """

    def __init__(self, source: str, issues: list[Issue]):
        self.source = source
        self.issues = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.source}: {len(self.issues)} error(s)"
        return "\n".join([head] + [f"  {self.source}: {issue}" for issue in self.issues])


def format_loc(loc: tuple) -> str:
    """Turn a pydantic location tuple into a field path: ('hardware', 2, 'kind') -> hardware[2].kind."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
