# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The self-test sandbox (docs/selftest.md): what it holds, and its model in a snapshot.

A sandbox belongs to one run (``run_id``: 8 to 32 ASCII letters and digits) and holds:

- two services whose names start with ``backupready-selftest-<run id>`` (a reserved prefix): a Win32 service whose
  ImagePath has unquoted spaces, and a kernel driver whose ImagePath is quoted and whose descriptor does not let the
  System Writer query it (KB 3209092). Both are disabled and their binaries do not exist: they never run. The
  allow-list needs nothing new for them (the same-command rule, the writer's ACE);
- a folder ``<system drive>\\ProgramData\\backupready-selftest\\<run id>`` whose DACL mimics a broken filemaps
  (KB 2009272: a deny of read to Users), with a few files that inherit from it. It is the one
  folder besides filemaps and PendingRenames that the allow-list admits (``_allowlist.selftest_run_id``), with the
  same value rules; ``win_filemaps_acl`` aims at it with ``filemaps_path``.

On a snapshot host the sandbox is modelled in the snapshot document (the services in ``services``, the folder under
``selftest_sandbox``); on a Windows host the engine makes it (``win_backup_selftest_sandbox``).
"""

from __future__ import annotations

import copy
import re

from ._allowlist import EXCLUDED_BINARY_PATHS, SELFTEST_SERVICE_PREFIX, selftest_root, selftest_run_id
from ._operations import SERVICES_KEY, SYSTEM_WRITER_KEY, normalise_key
from ._twin import SANDBOX_KEY
from ._display import shown

RUN_ID = re.compile(r"[0-9A-Za-z]{8,32}")
TI = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
# A deny of read to Users: the folder the System Writer could not enumerate (KB 2009272). The owner is SYSTEM, which
# the filemaps policy accepts: an owner Users would let every user rewrite the folder's DACL (owners may) and plant
# links in it. The engine's BackupEngine.SelftestSandbox makes the same folder on a live host.
FOLDER_SDDL = f"O:SYG:SYD:PAI(D;OICI;FR;;;BU)(A;OICI;FA;;;{TI})(A;OICI;0x1200a9;;;BA)"
# The files are owned by Backup Operators (an owner the policy does not accept, whose members may already read and
# write any file through their privileges): the files need their own fix, after the folder's.
FILE_SDDL = f"O:BOG:SYD:AI(D;ID;FR;;;BU)(A;ID;FA;;;{TI})(A;ID;0x1200a9;;;BA)"
FILE_NAMES = ("$$_selftest_0001.cdf-ms", "$$_selftest_0002.cdf-ms", "$$_selftest_0003.cdf-ms")
# A driver descriptor without (A;;CCLCSWLOCRRC;;;SU): the System Writer cannot query the driver (KB 3209092).
DRIVER_SDDL = "O:SYG:SYD:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)"
SERVICE_TYPE_WIN32_OWN = 0x10
SERVICE_TYPE_KERNEL_DRIVER = 0x1


class SandboxError(ValueError):
    """A run id or a sandbox that is not the self-test's: names what is wrong; nothing was changed."""


def check_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise SandboxError(f"run_id must be 8 to 32 ASCII letters and digits, got {shown(run_id)}")
    return run_id


def names(run_id: str, system_root: str) -> dict:
    """Where the sandbox of ``run_id`` lives on a host whose system root is ``system_root``."""
    root = selftest_root(system_root)
    if root is None:
        raise SandboxError(f"the host's system root {shown(system_root)} is not on a drive: no sandbox can be made")
    folder = f"{root}\\{check_run_id(run_id)}"
    service = f"{SELFTEST_SERVICE_PREFIX}{run_id}"
    return {"root": root, "folder": folder, "service": service, "driver": f"{service}-drv",
            "services": [service, f"{service}-drv"],
            "exclusion": f"{folder}\\Self Test\\selftest.exe",
            "image_path": f"{folder}\\Self Test\\selftest.exe -k sandbox",
            "driver_path": f'"{folder}\\selftest.sys"'}


def _service(name: str, kind: int, image_path: str, sddl: str | None) -> dict:
    return {"name": name, "display_name": "backupready.windows self-test (never runs; removed by the self-test)",
            "type": kind, "start_mode": "disabled", "state": "stopped",
            "account": None if kind == SERVICE_TYPE_KERNEL_DRIVER else "LocalSystem",
            "image_path": {"kind": "REG_EXPAND_SZ", "data": image_path}, "scm_path": image_path,
            "security": {"sddl": sddl, "source": "registry"} if sddl else {"sddl": None, "source": "default"}}


def model(run_id: str, system_root: str) -> tuple[list[dict], dict]:
    """(the two services, the ``selftest_sandbox`` section) of a freshly made sandbox, as the probe reports them."""
    where = names(run_id, system_root)
    services = [_service(where["service"], SERVICE_TYPE_WIN32_OWN, where["image_path"], None),
                _service(where["driver"], SERVICE_TYPE_KERNEL_DRIVER, where["driver_path"], DRIVER_SDDL)]
    files = list(FILE_NAMES)
    folder = {"path": where["folder"], "exists": True, "sddl": FOLDER_SDDL, "error": None,
              "files": {"count": len(files), "descriptors": [{"sddl": FILE_SDDL, "count": len(files),
                                                             "samples": files[:5], "names": files}]}}
    return services, {"run_id": run_id, "folder": folder}


def ours(name: str, run_id: str) -> bool:
    """True for the services of the sandbox of ``run_id`` (and only those)."""
    base = f"{SELFTEST_SERVICE_PREFIX}{run_id}".lower()
    return name.lower() in (base, base + "-drv")


def _multi(value) -> list | None:
    """The entries of a REG_MULTI_SZ (a missing value has none); None for anything else."""
    if not isinstance(value, dict):
        return None
    if value.get("kind") == "missing":
        return []
    data = value.get("data")
    if value.get("kind") != "REG_MULTI_SZ" or not isinstance(data, list) or not all(isinstance(e, str) for e in data):
        return None
    return data


def _only_the_entry(expect, new, entry: str) -> bool:
    """One of the two lists is the other with exactly one more entry, and that entry is the sandbox's."""
    before, after = _multi(expect), _multi(new)
    if before is None or after is None or abs(len(before) - len(after)) != 1:
        return False
    longer, shorter = (after, before) if len(after) > len(before) else (before, after)
    return any(longer[i].lower() == entry.lower() and longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


def op_of_run(op, run_id: str, system_root: str) -> bool:
    """True when ``op`` changes nothing but the sandbox of ``run_id``: an ImagePath or the descriptor of one of its two
    services, its folder (exactly the sandbox spelling), or the one ExcludedBinaryPaths entry inside its folder."""
    if not isinstance(op, dict):
        return False
    where = names(run_id, system_root)
    kind = op.get("op")
    if kind == "service_security":
        return isinstance(op.get("service"), str) and ours(op["service"], run_id)
    if kind == "path_security":
        return isinstance(op.get("path"), str) and op["path"] == where["folder"]
    if kind != "registry_value" or not isinstance(op.get("key"), str) or not isinstance(op.get("name"), str):
        return False
    key = normalise_key(op["key"]).lower()
    if key == SYSTEM_WRITER_KEY.lower():
        return op["name"].lower() == EXCLUDED_BINARY_PATHS.lower() and \
            _only_the_entry(op.get("expect"), op.get("set"), where["exclusion"])
    prefix = SERVICES_KEY.lower() + "\\"
    return key.startswith(prefix) and ours(key[len(prefix):], run_id) and op["name"].lower() == "imagepath"


def backup_of_run(backup: dict, run_id: str, system_root: str) -> bool:
    """True for a committed, trusted backup (a ``list_backups`` entry) whose every operation and undo operation is
    :func:`op_of_run`: the only backups the removal of the sandbox deletes. A record that touches anything else, a
    pending or untrusted one, or one without operations is never the self-test's."""
    check_run_id(run_id)
    operations, undo = backup.get("operations"), backup.get("undo")
    if not backup.get("trusted") or backup.get("status") != "committed" or not isinstance(operations, list) \
            or not isinstance(undo, list) or not operations:
        return False
    return all(op_of_run(op, run_id, system_root) for op in operations + undo)


def holds_the_entry(state: dict, run_id: str) -> bool:
    """True when the host's ExcludedBinaryPaths still holds the sandbox entry of ``run_id``."""
    value = (state.get("system_writer") or {}).get("excluded_binary_paths") or {}
    entries = value.get("data") if isinstance(value.get("data"), list) else []
    entry = names(run_id, state["host"]["system_root"])["exclusion"].lower()
    return any(isinstance(item, str) and item.lower() == entry for item in entries)


def remove_backups(store, run_id: str, system_root: str, check_mode: bool = False, state: dict | None = None) -> list[str]:
    """Delete (under the caller's lock) the backups of the sandbox of ``run_id`` (:func:`backup_of_run`); their ids.

    None while the run's ExcludedBinaryPaths entry is still on the host (``state``): a change of the run is still
    there, and its backups are the way to undo it."""
    if state is not None and holds_the_entry(state, run_id):
        return []
    gone = [b["id"] for b in store.list_backups() if backup_of_run(b, run_id, system_root)]
    if not check_mode:
        for backup_id in gone:
            store.delete_record(backup_id)
    return gone


def add_to_snapshot(state: dict, run_id: str) -> tuple[dict, bool]:
    """The snapshot with the sandbox of ``run_id`` made (a copy) and whether anything changed. Refuses a snapshot
    that holds another run's sandbox, or a service of that name that is not the sandbox's."""
    where = names(run_id, state["host"]["system_root"])
    services, section = model(run_id, state["host"]["system_root"])
    present = state.get(SANDBOX_KEY)
    if present is not None and present.get("run_id") != run_id:
        raise SandboxError(f"the snapshot already holds the sandbox of run {shown(present.get('run_id'))}: remove it first "
                           f"(state: absent, run_id: {present.get('run_id')})")
    if present is not None:
        return state, False  # already made: idempotent
    taken = [s["name"] for s in state["services"] if s["name"].lower() in {n.lower() for n in where["services"]}]
    if taken:
        raise SandboxError(f"service {shown(taken[0])} already exists and is not this run's sandbox: nothing was changed")
    new = copy.deepcopy(state)
    new["services"].extend(services)
    new[SANDBOX_KEY] = section
    return new, True


def remove_from_snapshot(state: dict, run_id: str) -> tuple[dict, bool, list[str]]:
    """The snapshot without the sandbox of ``run_id`` (a copy), whether anything changed, and what was removed."""
    check_run_id(run_id)
    removed = [s["name"] for s in state["services"] if ours(s["name"], run_id)]
    present = state.get(SANDBOX_KEY)
    if present is not None and present.get("run_id") != run_id:
        present = None  # another run's: left alone
    if not removed and present is None:
        return state, False, []
    new = copy.deepcopy(state)
    new["services"] = [s for s in new["services"] if not ours(s["name"], run_id)]
    if present is not None:
        removed.append(present["folder"]["path"])
        del new[SANDBOX_KEY]
    return new, True, removed


def sandbox_view(state: dict, path: str) -> dict:
    """The state as ``win_filemaps_acl`` sees it when aimed at the sandbox ``path``: its ``filemaps`` is the sandbox
    folder, PendingRenames absent (a copy of the top level; the sections are shared)."""
    system_root = state["host"]["system_root"]
    if not selftest_run_id(path, system_root):
        root = selftest_root(system_root) or "<system drive>\\ProgramData\\backupready-selftest"
        raise SandboxError(f"filemaps_path: {shown(path)} is not a self-test sandbox folder ({root}\\<run id>, 8 to 32 "
                           "ASCII letters and digits)")
    folder = (state.get(SANDBOX_KEY) or {}).get("folder")
    if not isinstance(folder, dict) or folder.get("path", "").rstrip("\\").lower() != path.rstrip("\\").lower():
        raise SandboxError(f"filemaps_path: the self-test sandbox {path} was not found on the host "
                           "(make it first with win_backup_selftest_sandbox)")
    view = dict(state)
    view["filemaps"] = folder
    view["pending_renames"] = {"path": folder["path"] + "\\PendingRenames", "exists": False, "sddl": None, "error": None}
    return view


def run_id_of(path: str) -> str:
    """The run id a ``filemaps_path`` names (its last segment), before the host's system root is known; the full
    check is :func:`sandbox_view`'s."""
    run_id = path.rstrip("\\").rsplit("\\", 1)[-1]
    if not RUN_ID.fullmatch(run_id):
        raise SandboxError(f"filemaps_path: {shown(path)} is not a self-test sandbox folder "
                           "(<system drive>\\ProgramData\\backupready-selftest\\<run id>, 8 to 32 ASCII letters and digits)")
    return run_id


def readback(state: dict, run_id: str) -> dict:
    """What the self-test and the targets compare before and after (exact values): the sandbox's services (ImagePath
    and descriptor), its folder and files (owner and DACL as read) and the SystemWriter value."""
    wanted = {n.lower() for n in names(run_id, state["host"]["system_root"])["services"]}
    services = {s["name"]: {"image_path": s["image_path"], "security": s["security"], "start_mode": s["start_mode"],
                            "state": s["state"]}
                for s in state["services"] if s["name"].lower() in wanted}
    section = state.get(SANDBOX_KEY) or {}
    folder = section.get("folder") if section.get("run_id", run_id) == run_id else None
    files = None
    if folder and folder.get("files") is not None:
        files = [{"sddl": d["sddl"], "count": d["count"]} for d in folder["files"]["descriptors"]]
    writer = state["system_writer"]
    return {"services": services,
            "folder": None if not folder else {"path": folder["path"], "exists": folder["exists"],
                                               "sddl": folder["sddl"], "files": files},
            "system_writer": {"key_exists": writer.get("key_exists"),
                              "excluded_binary_paths": writer.get("excluded_binary_paths")},
            # a folder whose existence could not be read (exists null: win_backup_state's unreadable) counts as there
            "exists": bool(services) or bool(folder and folder.get("exists") is not False)}
