# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A plan: the operations a module will apply, the findings behind them, and the exact ``--diff`` they make.

The diff is computed from the operations and the state they apply to, with the semantics of the snapshot twin
(:func:`_twin.apply_to_state`: what Windows stores, inherited ACEs included), so ``--check --diff`` shows exactly
what a real run writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ._display import visible
from ._findings import Finding
from ._operations import describe
from ._sddl import split_sddl
from ._twin import apply_to_state, files_before_after, read_current


@dataclass(frozen=True)
class Plan:
    """What a module decided: ``operations`` to apply, ``findings`` seen, extra ``result`` keys.

    ``recheck`` (optional) runs the module's checks on a state document; the base uses it to report the
    findings that remain after the operations (predicted exactly in check mode) and those they fix.
    """

    operations: list[dict] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    recheck: Callable[[dict], list[Finding]] | None = None
    marked_findings: list[dict] | None = None  # findings already as dicts (e.g. with waivers applied)


def _visible(text: str) -> str:
    """A value on a diff line of its own: an embedded NUL, other invisible characters and leading or trailing
    spaces named (``<NUL>``, ``<SP>``: ``_display``), backslashes as they are."""
    return visible(text, edges=True)


def render_value(op: dict, value: Any) -> str:
    """A value as diff text: one line per string / multi-string entry / ACE."""
    if value is None:
        return "(absent)\n"
    if op["op"] == "registry_value":
        kind, data = value["kind"], value["data"]
        if kind == "missing":
            return "(value absent)\n"
        if kind == "REG_MULTI_SZ":
            lines = [_visible(item) for item in data] or ["(empty list)"]
            return f"[{kind}]\n" + "".join(f"{line}\n" for line in lines)
        if isinstance(data, int):
            return f"[{kind}] {data} (0x{data:x})\n"
        return f"[{kind}] {_visible(str(data))}\n"
    if op["op"] in ("path_security", "service_security") and isinstance(value, str) and value != "default":
        return _render_sddl(value)
    if isinstance(value, list):
        return "".join(_render_sddl(v) for v in value)
    return f"{value}\n"


def _render_sddl(sddl: str) -> str:
    """One line per section header and per ACE, so that a diff shows which ACE changed."""
    lines = []
    for name, body in split_sddl(sddl).items():
        head, _paren, rest = body.partition("(")
        lines.append(f"{name}:{head}")
        if rest:
            for ace in ("(" + rest).replace(")(", ")\n(").split("\n"):
                lines.append(f"  {ace}")
    return "".join(f"{line}\n" for line in lines) or f"{sddl}\n"


def diff_for(state: dict, operations: list[dict]) -> list[dict]:
    """Ansible diff entries (before/after with headers) for each operation that changes something.

    "after" is what the twin predicts Windows stores once every operation is written (for a folder, the inherited
    ACEs its files then get are in the files' entry).
    """
    predicted, _outcome = apply_to_state(state, operations, check_mode=True)
    diffs = []
    for op in operations:
        if op["op"] == "path_security" and op["target"] == "files":
            before, after = files_before_after(op, state, predicted)
            header = f"{describe(op)}: files with this descriptor"
        elif op["op"] == "service_state":
            before = read_current(op, state)
            after = "running (restarted)" if op["set"] == "restarted" else "running"
            header = describe(op)
        else:
            before, after = read_current(op, state), read_current(op, predicted)
            header = describe(op)
        before_text, after_text = render_value(op, before), render_value(op, after)
        if before_text == after_text and op["op"] != "service_state":
            continue
        diffs.append({"before_header": f"{header} (before)", "after_header": f"{header} (after)",
                      "before": before_text, "after": after_text})
    return diffs
