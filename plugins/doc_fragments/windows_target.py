# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module of this collection needs from the Windows host and the controller, and what it supports."""

from __future__ import annotations


class ModuleDocFragment:
    # Every module: the PowerShell modules and the action plugins alike.
    DOCUMENTATION = r"""
requirements:
  - >-
    Windows host: Windows Server 2016 or later with Windows PowerShell 5.1.
    The modules have been checked statically and against recorded host states, not yet run on a live host.
  - >-
    Account: a member of the host's Administrators group (C(vssadmin), service security descriptors and the
    filemaps ACL need an elevated token). C(become) is not needed. A local, non-built-in administrator connecting
    over WinRM or PSRP gets a filtered token unless C(LocalAccountTokenFilterPolicy) is 1; use a domain account.
  - >-
    Controller: C(pywinrm) for C(ansible_connection=winrm) or C(pypsrp) for C(ansible_connection=psrp); with
    Kerberos, C(pywinrm[kerberos]) or C(pypsrp[kerberos]) and the system's Kerberos client.
attributes:
  async:
    support: none
    details: The C(async) task keyword is not supported; the task fails when it is set.
  bypass_host_loop:
    support: none
  platform:
    platforms: windows
"""

    # The user-facing modules: action plugins that call the collection's PowerShell modules, or read a snapshot.
    ACTION = r"""
attributes:
  action:
    support: full
    details: >-
      The module is an action plugin: the checks and the plan run on the controller, and the host is read and
      changed through the collection's internal modules M(backupready.windows.win_backup_state) and
      M(backupready.windows.win_backup_apply).
notes:
  - >-
    With the host variable C(backupready_snapshot) set to a host state document on the controller (a path relative
    to the inventory's folder), the module reads that file instead of the host and applies its changes to the file,
    with the same semantics; no connection to the host is made (use C(ansible_connection=local)).
  - >-
    On a live host, what a change replaces is saved first under the host variable C(backupready_backup_dir)
    (default C(%ProgramData%\backupready\backups)); M(backupready.windows.win_backup_rollback) puts it back.
"""
