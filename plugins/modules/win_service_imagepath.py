#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_service_imagepath
short_description: Find and safely fix service ImagePath values that break the VSS System Writer
version_added: 0.1.0
description:
  - >-
    System State backups fail when the VSS System Writer derives an invalid, non-local or missing path from a
    service's binary path (KB 4053355 0x8007007B, KB 968247, KB 980794 "The parameter is incorrect"). This module
    derives, for every service, the path the writer derives (drivers and Win32 services differ; C(\??\),
    C(\SystemRoot\), the C(%SystemRoot%\) prefix, the cut after C(.exe), environment expansion) and judges it.
  - >-
    Defects (finding codes) - C(invalid_syntax), C(quoted_driver), C(embedded_nul), C(unquoted_spaces) (Win32
    services only, never drivers; CWE-428), which have a safe fix, and C(missing_volume) and C(missing_file), which
    are reported only (see M(backupready.windows.win_systemwriter_exclusions) with C(exclude_unreachable)).
  - >-
    A fix keeps the arguments byte for byte, the value kind (REG_EXPAND_SZ stays REG_EXPAND_SZ, C(%VAR%) stays
    unexpanded) and the case of what it does not touch. A value that cannot be parsed with confidence is reported and
    never rewritten, and a value is rewritten only when every repairable defect it has is selected in O(fix).
  - >-
    Unlike the advice of KB 4053355 ("remove a leading backslash"), C(\SystemRoot\...) and C(\??\C:\...) are valid
    driver paths and are left alone, and driver paths are never quoted.
options:
  fix:
    description: The defects to repair.
    type: list
    elements: str
    choices: [invalid_syntax, quoted_driver, embedded_nul, unquoted_spaces]
    default: [invalid_syntax, quoted_driver, embedded_nul, unquoted_spaces]
  include:
    description:
      - Service name patterns (shell style, case-insensitive) to look at.
      - A pattern that is not a string, is empty, or has a C([) that no C(]) closes is refused (C([[]) matches a C([)).
    type: list
    elements: str
    default: ["*"]
  exclude:
    description: Service name patterns to leave out (checked as O(include) is).
    type: list
    elements: str
    default: []
  report_only:
    description: Report the defects and the fixes that would be made, change nothing.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    description: Shows each ImagePath before and after, with its value kind; an embedded NUL shows as C(\x00).
  platform:
    platforms: windows
notes:
  - >-
    Two module calls read the host (the services, then the existence of their binaries), one writes, whatever the
    number of services.
  - The ImagePath registry value is written directly (compare-and-swap on the exact value read), with its kind kept.
seealso:
  - module: backupready.windows.win_systemwriter_exclusions
  - module: backupready.windows.win_backup_readiness_info
extends_documentation_fragment:
  - backupready.windows.reviewed_plan
author:
  - backupready.windows developers
"""

EXAMPLES = r"""
- name: Fix every safe ImagePath defect
  backupready.windows.win_service_imagepath:

- name: Only report, for services of one vendor
  backupready.windows.win_service_imagepath:
    include: ["TM*", "Trend*"]
    report_only: true
  register: imagepath

- name: Fix syntax only, never touch unquoted paths
  backupready.windows.win_service_imagepath:
    fix: [invalid_syntax, quoted_driver, embedded_nul]
    exclude: [MyLegacyService]
"""

RETURN = r"""
services:
  description: One entry per service with a defect.
  returned: success
  type: list
  elements: dict
  contains:
    service:
      description: The service (registry key) name.
      type: str
    defects:
      description: The defect codes.
      type: list
      elements: str
    old:
      description: The ImagePath data as found.
      type: str
    new:
      description: The fixed value, or null when no fix is made (none needed, none safe, or not selected).
      type: str
    kind:
      description: The value kind, kept by the fix.
      type: str
  sample:
    - service: TMBMServer
      defects: [invalid_syntax]
      old: '"C:\Program Files (x86)\Trend Micro\Client Server Security Agent\..\BM\TMBMSRV.exe" /service'
      new: '"C:\Program Files (x86)\Trend Micro\BM\TMBMSRV.exe" /service'
      kind: REG_EXPAND_SZ
findings:
  description: >-
    The ImagePath findings that remain after the task (evidence includes the writer path and, for
    missing_volume / missing_file, the C(exclusion_path)).
  returned: success
  type: list
  elements: dict
fixed:
  description: The findings this task fixed.
  returned: when something was (or would be) changed
  type: list
  elements: dict
backup_path:
  description: Where the host saved the values that were replaced.
  returned: when changed outside check mode
  type: str
"""
