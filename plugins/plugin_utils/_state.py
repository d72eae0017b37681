# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host state document: what the probe returns and what a snapshot holds.

One versioned schema (``SCHEMA_VERSION``), one validator, one loader. Every error names the source
(a file, or "<host>: win_backup_state result"), the field (a dotted path such as
``services[12].image_path.kind``) and what is wrong. Nothing here raises anything but
:class:`StateError` on bad input: a corrupt, truncated or foreign JSON file never becomes a traceback.

The document is plain JSON data (dicts and lists); see ``docs/state-schema.md`` for the prose version.
Registry data is stored exactly: ``{"kind": "REG_EXPAND_SZ", "data": "..."}`` where ``data`` keeps
anything after an embedded NUL (as ``\\u0000`` in JSON).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable

try:
    from ._display import shown as displayed
except ImportError:  # loaded by path, outside the package (tools/build_demo_fleet.py): _display by path too
    import importlib.util

    _SPEC = importlib.util.spec_from_file_location("backupready_display",
                                                   os.path.join(os.path.dirname(os.path.abspath(__file__)), "_display.py"))
    _DISPLAY = importlib.util.module_from_spec(_SPEC)
    _SPEC.loader.exec_module(_DISPLAY)
    displayed = _DISPLAY.shown

SCHEMA_VERSION = 1

REG_KINDS = ("REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY", "REG_NONE", "missing")
START_MODES = ("boot", "system", "auto", "manual", "disabled", "unknown")
SERVICE_STATES = ("running", "stopped", "start_pending", "stop_pending", "continue_pending", "pause_pending",
                  "paused", "unknown")
PRODUCT_TYPES = ("workstation", "domain_controller", "server")
SD_SOURCES = ("registry", "default", "unreadable")

# Service Type bits (winnt.h): drivers are 0x1 / 0x2, Win32 services 0x10 / 0x20 (plus 0x40+ for per-user).
SERVICE_KERNEL_DRIVER = 0x1
SERVICE_FILE_SYSTEM_DRIVER = 0x2
SERVICE_DRIVER_MASK = 0xB
SERVICE_WIN32_MASK = 0x30

MAX_FILE_BYTES = 256 * 1024 * 1024
# A state document nests 8 levels at most; anything much deeper (an unknown extra key is kept) would make the code
# that copies a document (copy.deepcopy, a few Python frames per level) hit Python's recursion limit.
MAX_NESTING = 64


class StateError(ValueError):
    """A state document that cannot be used; the message names source, field and problem."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"field '{field}'" if field else "document"
        super().__init__(f"{source}: {where}: {problem}")


# ---------------------------------------------------------------------------------------------------
# A small declarative validator: a spec is a type name, or a dict with "type" and its own keys.
# ---------------------------------------------------------------------------------------------------

def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_SCALARS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": _is_int,
    "bool": lambda v: isinstance(v, bool),
    "any": lambda v: True,
}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(value: Any, spec: Any, path: str, source: str) -> None:
    if isinstance(spec, str):
        spec = {"type": spec}
    if value is None:
        if spec.get("nullable"):
            return
        raise StateError(source, path, f"must not be null (expected {spec['type']})")
    kind = spec["type"]
    if kind in _SCALARS:
        if not _SCALARS[kind](value):
            raise StateError(source, path, f"expected {kind}, got {_describe(value)}")
        if "choices" in spec and value not in spec["choices"]:
            raise StateError(source, path, f"expected one of {', '.join(map(str, spec['choices']))}; got {displayed(value)}")
        if "min" in spec and value < spec["min"]:
            raise StateError(source, path, f"must be >= {spec['min']}, got {value}")
    elif kind == "list":
        if not isinstance(value, list):
            raise StateError(source, path, f"expected a list, got {_describe(value)}")
        for index, item in enumerate(value):
            _check(item, spec["items"], f"{path}[{index}]", source)
    elif kind == "map":
        if not isinstance(value, dict):
            raise StateError(source, path, f"expected an object, got {_describe(value)}")
        for key, item in value.items():
            _check(item, spec["values"], f"{path}[{displayed(key)}]", source)
    elif kind == "object":
        if not isinstance(value, dict):
            raise StateError(source, path, f"expected an object, got {_describe(value)}")
        for key, field_spec in spec["fields"].items():
            optional = isinstance(field_spec, dict) and field_spec.get("optional")
            if key not in value:
                if optional:
                    continue
                raise StateError(source, _join(path, key), "is missing")
            _check(value[key], field_spec, _join(path, key), source)
        if "validate" in spec:
            spec["validate"](value, path, source)
    elif kind == "regvalue":
        _check_regvalue(value, path, source)
    else:  # pragma: no cover - a bug in the spec itself
        raise AssertionError(f"unknown spec type {kind}")


def _check_regvalue(value: Any, path: str, source: str) -> None:
    if not isinstance(value, dict):
        raise StateError(source, path, f"expected a registry value object, got {_describe(value)}")
    for key in ("kind", "data"):
        if key not in value:
            raise StateError(source, _join(path, key), "is missing")
    kind, data = value["kind"], value["data"]
    if kind not in REG_KINDS:
        raise StateError(source, _join(path, "kind"), f"expected one of {', '.join(REG_KINDS)}; got {displayed(kind)}")
    expected: tuple[str, Callable[[Any], bool]]
    if kind in ("REG_SZ", "REG_EXPAND_SZ"):
        expected = ("a string", lambda v: isinstance(v, str))
    elif kind == "REG_MULTI_SZ":
        expected = ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v))
    elif kind in ("REG_DWORD", "REG_QWORD"):
        limit = 2 ** 32 if kind == "REG_DWORD" else 2 ** 64
        expected = ("an unsigned integer", lambda v: _is_int(v) and 0 <= v < limit)
    elif kind in ("REG_BINARY", "REG_NONE"):
        expected = ("a hex string", _is_hex)
    else:  # missing
        expected = ("null", lambda v: v is None)
    if not expected[1](data):
        raise StateError(source, _join(path, "data"), f"{kind} data must be {expected[0]}, got {_describe(data)}")


def _is_hex(value: Any) -> bool:
    if not isinstance(value, str) or len(value) % 2:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


# CreateService (Microsoft docs), lpServiceName: "The maximum string length is 256 characters." A longer name is no
# service's, and would be echoed in full by every message that names it.
MAX_SERVICE_NAME = 256


def _check_unique_services(value: dict, path: str, source: str) -> None:
    seen: dict[str, int] = {}
    for index, service in enumerate(value["services"]):
        if len(service["name"]) > MAX_SERVICE_NAME:
            raise StateError(source, f"services[{index}].name",
                             f"is {len(service['name']):,} characters long; a service name has at most "
                             f"{MAX_SERVICE_NAME} (CreateService)")
        key = service["name"].lower()
        if key in seen:
            raise StateError(source, f"services[{index}].name",
                             f"duplicate service name {displayed(service['name'])} (also services[{seen[key]}])")
        seen[key] = index


_REG = {"type": "regvalue"}
_PATH_SECURITY = {
    "type": "object",
    "fields": {
        "path": "str",
        "exists": {"type": "bool", "nullable": True},  # null: could not be told (then error says why)
        "sddl": {"type": "str", "nullable": True},
        "error": {"type": "str", "nullable": True, "optional": True},
        "files": {
            "type": "object", "nullable": True, "optional": True,
            "fields": {
                "count": {"type": "int", "min": 0},
                "descriptors": {"type": "list", "items": {"type": "object", "fields": {
                    "sddl": {"type": "str", "nullable": True},
                    "count": {"type": "int", "min": 1},
                    "samples": {"type": "list", "items": "str"},
                    "names": {"type": "list", "items": "str", "optional": True},
                }}},
            },
        },
    },
}
_SERVICE = {
    "type": "object",
    "fields": {
        "name": "str",
        "display_name": {"type": "str", "nullable": True},
        "type": {"type": "int", "min": 0},
        "start_mode": {"type": "str", "choices": START_MODES},
        "state": {"type": "str", "choices": SERVICE_STATES, "nullable": True},
        "account": {"type": "str", "nullable": True},
        "image_path": _REG,
        "scm_path": {"type": "str", "nullable": True},
        "security": {"type": "object", "fields": {
            "sddl": {"type": "str", "nullable": True},
            "source": {"type": "str", "choices": SD_SOURCES},
        }},
    },
}
_EVENT = {
    "type": "object",
    "fields": {
        "log": "str",
        "provider": "str",
        "id": {"type": "int", "min": 0},
        "time_created": {"type": "str", "nullable": True},
        "level": {"type": "str", "nullable": True, "optional": True},
        "message": {"type": "str", "nullable": True},
        "properties": {"type": "list", "items": {"type": "str", "nullable": True}},
    },
}

STATE_SPEC = {
    "type": "object",
    "fields": {
        "schema_version": "int",
        "collected_at": "str",
        "collector": "str",
        "host": {"type": "object", "fields": {
            "name": "str",
            "os_version": "str",
            "os_build": {"type": "int", "nullable": True},
            "os_caption": {"type": "str", "nullable": True},
            "product_type": {"type": "str", "choices": PRODUCT_TYPES},
            "system_root": "str",
            "system_drive": "str",
            "powershell_version": {"type": "str", "nullable": True, "optional": True},
        }},
        "volumes": {"type": "list", "items": {"type": "object", "fields": {
            "drive_letter": {"type": "str", "nullable": True},
            "mount_point": "str",
            "file_system": {"type": "str", "nullable": True},
        }}},
        "services": {"type": "list", "items": _SERVICE},
        # key_exists null and error set: the key could not be read (never reported as absent).
        "system_writer": {"type": "object", "fields": {
            "key_exists": {"type": "bool", "nullable": True},
            "excluded_binary_paths": _REG,
            "report_win32_services_non_system_state": _REG,
            "error": {"type": "str", "nullable": True, "optional": True},
        }},
        "vssadmin": {"type": "object", "fields": {
            "collected": "bool",
            "exit_code": {"type": "int", "nullable": True},
            "stdout": "str",
            "stderr": "str",
            "encoding": {"type": "int", "optional": True},  # the code page stdout was decoded with
            "stdout_base64": {"type": "str", "optional": True},  # the bytes as vssadmin wrote them (self-test probes)
        }},
        "filemaps": _PATH_SECURITY,
        "pending_renames": _PATH_SECURITY,
        "vss_access_control": {"type": "object", "fields": {
            "key_exists": {"type": "bool", "nullable": True},
            "values": {"type": "map", "values": _REG},
            "error": {"type": "str", "nullable": True, "optional": True},
        }},
        "events": {"type": "list", "items": _EVENT},
        "wsb_log_lines": {"type": "list", "items": {"type": "object", "fields": {"file": "str", "line": "str"}}},
        "paths": {"type": "map", "values": {"type": "bool", "nullable": True}},
        # Sections the probe could not read, name -> why (never reported as empty or absent).
        "unreadable": {"type": "map", "values": "str", "optional": True},
        # Each event query's outcome, so that "no events" and "no such provider" differ from a failure.
        "event_queries": {"type": "list", "optional": True, "items": {"type": "object", "fields": {
            "log": "str",
            "provider": {"type": "str", "nullable": True},
            "ids": {"type": "list", "items": {"type": "int", "min": 0}},
            "status": {"type": "str", "choices": ("ok", "no_events", "no_log", "no_provider", "failed")},
            "count": {"type": "int", "min": 0},
            "error": {"type": "str", "nullable": True},
        }}},
        "simulation": {"type": "object", "optional": True, "fields": {
            "on_cryptsvc_restart": {"type": "object", "optional": True, "fields": {
                "vssadmin": {"type": "any", "optional": True},
                "events": {"type": "list", "items": _EVENT, "optional": True},
                "if_findings_remain": {"type": "object", "optional": True, "fields": {
                    "codes": {"type": "list", "items": "str"},
                    "vssadmin": {"type": "any", "optional": True},
                    "events": {"type": "list", "items": _EVENT, "optional": True},
                }},
            }},
        }},
    },
    "validate": _check_unique_services,
}


# ---------------------------------------------------------------------------------------------------
# What JSON allows and this collection cannot carry: checked over the whole document, extra keys included.
# ---------------------------------------------------------------------------------------------------

class _LongInteger:
    """An integer too long for Python to read (``sys.get_int_max_str_digits``, 4300 digits by default)."""

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))


def _parse_int(text: str) -> int | _LongInteger:
    try:
        return int(text)
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        return _LongInteger(text)


# JSON may escape half of a UTF-16 surrogate pair ("\ud800"): Python keeps it, no UTF-8 writer can write it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _field(where: tuple | None, *last: Any) -> str:
    """The dotted path of a place (a chain of (parent, key) links, then ``last``), cut after 6 parts."""
    keys = list(last)
    while where is not None:
        where, key = where
        keys.insert(0, key)
    parts = [_part(key) for key in keys]
    shown = "".join(parts[:6]) + ("..." if len(parts) > 6 else "")
    return shown.lstrip(".")


def _part(key: Any) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    return f".{key}" if key.isidentifier() else f"[{displayed(key)}]"


def _check_carriable(doc: Any, source: str, strings: bool = True) -> None:
    """Refuse what no later step could handle: deep nesting, lone surrogates, integers Python cannot read.

    One pass without recursion, so that a document nested thousands of levels deep is refused, not crashed on;
    a path is built only for an error. ``strings`` False skips the surrogate search (the JSON text had none).
    """
    stack: list[tuple[Any, int, tuple | None]] = [(doc, 0, None)]
    while stack:
        container, depth, where = stack.pop()
        if depth >= MAX_NESTING:
            raise StateError(source, _field(where),
                             f"nested more than {MAX_NESTING} levels deep (a state document needs fewer than 10)")
        if isinstance(container, dict):
            items: Any = container.items()
            bad_key = next((k for k in container if strings and isinstance(k, str) and _LONE_SURROGATE.search(k)),
                           None)
            if bad_key is not None:
                raise StateError(source, _field(where) or "document",
                                 f"a key holds a lone UTF-16 surrogate ({json.dumps(bad_key)[:80]}): not text "
                                 "that can be written back as UTF-8")
        else:
            items = enumerate(container)
        for key, value in items:
            if isinstance(value, (dict, list)):
                stack.append((value, depth + 1, (where, key)))
            elif isinstance(value, _LongInteger):
                raise StateError(source, _field(where, key),
                                 f"an integer of {value.digits} digits: longer than Python reads "
                                 "(4300 digits by default); not a value of a state document")
            elif strings and isinstance(value, str):
                found = _LONE_SURROGATE.search(value)
                if found:
                    raise StateError(source, _field(where, key),
                                     f"holds a lone UTF-16 surrogate ({json.dumps(found.group())} at character "
                                     f"{found.start()}): not text that can be written back as UTF-8")


# In JSON text decoded from UTF-8 a lone surrogate can only come from a \uD800-\uDFFF escape.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def validate_state(doc: Any, source: str) -> dict:
    """Return ``doc`` when it is a valid state document of this schema version; raise StateError otherwise."""
    return _validate(doc, source, strings=True)


def _validate(doc: Any, source: str, strings: bool) -> dict:
    if not isinstance(doc, dict):
        raise StateError(source, "", f"expected a JSON object (a backupready host state document), got {_describe(doc)}")
    _check_carriable(doc, source, strings)
    if "schema_version" not in doc:
        raise StateError(source, "schema_version",
                         "is missing: this is not a backupready host state document")
    version = doc["schema_version"]
    if not _is_int(version):
        raise StateError(source, "schema_version", f"expected an integer, got {_describe(version)}")
    if version != SCHEMA_VERSION:
        newer = "newer" if version > SCHEMA_VERSION else "older"
        raise StateError(source, "schema_version",
                         f"version {version} is {newer} than the version this collection reads ({SCHEMA_VERSION})")
    _check(doc, STATE_SPEC, "", source)
    return doc


def parse_state(text: str | bytes, source: str) -> dict:
    """Parse and validate a state document from JSON text."""
    from_utf8 = isinstance(text, bytes)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise StateError(source, "", f"not UTF-8 text (byte {exc.start}): not a JSON state document") from None
    if not text.strip():
        raise StateError(source, "", "the file is empty")
    try:
        doc = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise StateError(source, "", f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                                     "the file may be truncated or corrupt") from None
    except RecursionError:
        raise StateError(source, "", "JSON nested too deeply") from None
    surrogates = _SURROGATE_ESCAPE.search(text) or (not from_utf8 and _LONE_SURROGATE.search(text))
    return _validate(doc, source, strings=bool(surrogates))


def load_state_file(path: str) -> dict:
    """Read a snapshot file and return its validated document."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise StateError(path, "", f"file is {size} bytes, larger than the {MAX_FILE_BYTES} bytes allowed")
        with open(path, "rb") as handle:
            raw = handle.read()
    except StateError:
        raise
    except IsADirectoryError:
        raise StateError(path, "", "is a directory, not a snapshot file") from None
    except OSError as exc:
        raise StateError(path, "", f"cannot be read: {exc.strerror or exc}") from None
    return parse_state(raw, path)


def dump_state(doc: dict) -> str:
    """Serialise a document the way snapshots are written (stable key order, readable, NULs escaped)."""
    return json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------------
# Accessors used by the checks (pure, read-only).
# ---------------------------------------------------------------------------------------------------

def is_driver(service: dict) -> bool:
    """Kernel or file-system driver (SERVICE_DRIVER = 0xB mask, as the System Writer enumerates them)."""
    return bool(service["type"] & SERVICE_DRIVER_MASK)


def is_win32(service: dict) -> bool:
    return bool(service["type"] & SERVICE_WIN32_MASK) and not is_driver(service)


def find_service(state: dict, name: str) -> dict | None:
    """Service names are case-insensitive in the SCM."""
    lowered = name.lower()
    for service in state["services"]:
        if service["name"].lower() == lowered:
            return service
    return None


def local_drive_letters(state: dict) -> set[str]:
    """Upper-case drive letters ("C:") of the host's local volumes."""
    letters = set()
    for volume in state["volumes"]:
        letter = volume.get("drive_letter")
        if letter:
            letters.add(letter.rstrip("\\").upper())
    return letters
