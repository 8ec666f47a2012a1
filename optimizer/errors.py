"""Errors the optimizer raises on purpose, each carrying what a user needs to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    rule broken, each with its field path, e.g. ``hardware[2] (gb300-nvl72).performance.chat.decode[1]``.
    """

    def __init__(self, source: str, issues: list[Issue]):
        self.source = source
        self.issues = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.source}: {len(self.issues)} error(s)"
        return "\n".join([head] + [f"  {self.source}: {issue}" for issue in self.issues])


NAME_MAX = 80  # a longer name is left out: it would swamp every path through its element


def element_path(field: str, index: int, name: Any = None) -> str:
    """The path of one list element, named after its index when it has a usable name (a
    non-blank, printable string of at most NAME_MAX characters):
    ``element_path("hardware", 2, "gb300-nvl72")`` -> ``hardware[2] (gb300-nvl72)``; with no
    name, or a name that is not such a string, ``hardware[2]``.

    Every path through a list element is built here, from pydantic's locations
    (:func:`format_loc`) and by hand (the cross-field checks) alike."""
    if isinstance(name, str) and name.strip() and name.isprintable() and len(name) <= NAME_MAX:
        return f"{field}[{index}] ({name})"
    return f"{field}[{index}]"


def format_loc(loc: tuple, doc: Any = None) -> str:
    """Turn a pydantic location tuple into a field path: ('hardware', 2, 'kind') -> hardware[2].kind.

    With ``doc``, the document the location points into, list elements are named as well:
    hardware[2] (gb300-nvl72).kind."""
    out = ""
    node = doc
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, (list, tuple)):  # pydantic reads a tuple as a list too
                item = node[part] if 0 <= part < len(node) else None
                out = element_path(out, part, item.get("name") if isinstance(item, dict) else None)
            else:  # a mapping's integer key (a year), or a place the document lacks
                item = node.get(part) if isinstance(node, dict) else None
                out += f"[{part}]"
            node = item
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out
