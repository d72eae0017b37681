# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How values are shown to people: Windows paths as Windows shows them, invisible characters made visible.

Python's ``repr`` doubles every backslash (``'C:\\\\Windows'``), so a path copied from a message is not the path,
and the fix for a doubled backslash looks like the defect. Every message, fix text, error and diff of this
collection shows a value through this module instead:

- :func:`quoted` for a value inside a sentence: ``'C:\\Windows\\x.sys'``, single backslashes, in single quotes
  (double quotes when the value holds a single quote and no double quote), so leading and trailing spaces show;
- :func:`visible` for a value on a line of its own (a ``--diff`` line, evidence): no quotes; with ``edges`` the
  leading and trailing spaces are marked ``<SP>``;
- :func:`shown` for any value, e.g. a wrong task argument: strings quoted, ``null``/``true``/``false``, lists
  and mappings in YAML flow style with each string quoted.

Characters that cannot be seen are named in angle brackets, which cannot occur in a Windows file name, so the
marks are never mistaken for part of a path: ``<NUL>``, ``<TAB>``, ``<LF>``, ``<CR>``, ``<DEL>``, and ``<U+XXXX>``
for any other control, format or separator character (``<U+200B>`` a zero-width space, ``<U+00A0>`` a no-break
space).
"""

from __future__ import annotations

from typing import Any, Mapping

_NAMES = {"\x00": "<NUL>", "\t": "<TAB>", "\n": "<LF>", "\r": "<CR>", "\x7f": "<DEL>"}


def _mark(char: str) -> str:
    return _NAMES.get(char) or f"<U+{ord(char):04X}>"


def visible(text: str, edges: bool = False) -> str:
    """``text`` with every character that cannot be seen named (``<NUL>``, ``<TAB>``, ``<U+200B>``...).

    ``edges``: also mark leading and trailing spaces (``<SP>``), for a value shown without quotes.
    """
    text = str(text)
    if text.isprintable():
        out = text
    else:
        out = "".join(char if char.isprintable() else _mark(char) for char in text)
    if edges and out != out.strip(" "):
        body = out.strip(" ")
        if not body:
            return "<SP>" * len(out)
        lead = len(out) - len(out.lstrip(" "))
        trail = len(out) - len(out.rstrip(" "))
        out = "<SP>" * lead + body + "<SP>" * trail
    return out


def quoted(text: str, limit: int | None = None) -> str:
    """``text`` in quotes for a sentence, backslashes as they are, invisible characters named.

    ``limit``: show at most that many characters of ``text``, then ``...`` inside the quotes.
    """
    text = str(text)
    cut = limit is not None and len(text) > limit
    body = visible(text[:limit] if cut else text) + ("..." if cut else "")
    mark = '"' if "'" in text and '"' not in text else "'"
    return f"{mark}{body}{mark}"


def shown(value: Any, limit: int | None = None) -> str:
    """Any value as a person reads it: a string quoted (:func:`quoted`), ``null``, ``true``/``false``, numbers
    as written, lists ``[a, b]`` and mappings ``{key: value}`` with their strings quoted."""
    if isinstance(value, str):
        return quoted(value, limit)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(key)}: {shown(item, limit)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(shown(item, limit) for item in value) + "]"
    return quoted(str(value), limit)


def _key(key: Any) -> str:
    text = str(key)
    return text if text.isidentifier() else shown(key)
