#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_backup_selftest_sandbox
short_description: Make or remove the sandbox the self-test and the integration targets work in
version_added: 0.3.0
description:
  - B(Self-test only.) Used by the C(backupready.windows.selftest) playbook and the collection's integration targets;
    nothing else needs it.
  - >-
    A sandbox belongs to one run and holds two disabled services whose binaries do not exist (they never run),
    named C(backupready-selftest-<run id>) (a Win32 service whose ImagePath has unquoted spaces) and
    C(backupready-selftest-<run id>-drv) (a kernel driver whose ImagePath is quoted and whose security descriptor
    does not let the System Writer query it, KB 3209092), and a folder
    C(<system drive>\ProgramData\backupready-selftest\<run id>) with three files, whose DACL (a deny of read to
    Users) mimics a broken filemaps folder (KB 2009272); its owner is SYSTEM, so that no user may change it.
  - >-
    The other modules aim at it without any new permission for the real targets: the services by name
    (C(include) of M(backupready.windows.win_service_imagepath), C(services) of
    M(backupready.windows.win_writer_access)); the folder with O(backupready.windows.win_filemaps_acl#module:filemaps_path).
  - O(state=absent) removes exactly what O(state=present) made for that run id, and nothing else.
  - O(state=query) changes nothing and returns RV(sandbox) and RV(store), what the self-test and the targets compare.
  - >-
    On a snapshot host the sandbox is modelled in the snapshot (the services in C(services), the folder under
    C(selftest_sandbox)). On a Windows host the internal module C(win_backup_sandbox) makes it: the folder through
    the engine (C(%ProgramData%\backupready-selftest) SYSTEM's and Administrators' alone, never through a link) and
    the services with C(New-Service).
options:
  run_id:
    description: The run the sandbox belongs to, 8 to 32 ASCII letters and digits.
    type: str
    required: true
  state:
    description: Make (C(present)), remove (C(absent)) or read back (C(query)) the sandbox of O(run_id).
    type: str
    default: present
    choices: [present, absent, query]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - backupready.windows.windows_target
attributes:
  action:
    support: full
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - The sandbox on a Windows host has not been made on a real host yet; see the collection's C(docs/selftest.md).
seealso:
  - module: backupready.windows.win_filemaps_acl
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: Make the sandbox of this run
  backupready.windows.win_backup_selftest_sandbox:
    run_id: "{{ run_id }}"

- name: Remove it
  backupready.windows.win_backup_selftest_sandbox:
    run_id: "{{ run_id }}"
    state: absent
"""

RETURN = r"""
folder:
  description: The sandbox folder.
  returned: success
  type: str
  sample: C:\ProgramData\backupready-selftest\20261130101500ab
services:
  description: The names of the sandbox's services.
  returned: success
  type: list
  elements: str
removed:
  description: What O(state=absent) removed (services, the folder).
  returned: success
  type: list
  elements: str
run_id:
  description: The run id.
  returned: success
  type: str
sandbox:
  description:
    - With O(state=query), the exact values the self-test compares, C(services) (name to C(image_path), C(security),
      C(start_mode), C(state)), C(folder) (C(path), C(exists), C(sddl), C(files) as distinct descriptors with counts),
      C(system_writer) (C(key_exists), C(excluded_binary_paths)) and C(exists).
  returned: with O(state=query)
  type: dict
store:
  description:
    - With O(state=query), where backups go and whether that folder is protected (on a live host the engine's verdict
      on its owner and DACL; on a snapshot host C(path), C(mode), C(secure), C(problem)).
  returned: with O(state=query)
  type: dict
backend:
  description: C(live) or C(snapshot).
  returned: success
  type: str
"""
