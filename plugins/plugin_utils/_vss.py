# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cryptographic Services (the host of the VSS System Writer) and the writer itself.

The System Writer "runs as part of the Cryptographic Services (CryptSvc) service" (in-box VSS writers doc);
"System writer is not found in the backup" follows when CryptSvc fails (seed 002, KB 2009272).
"""

from __future__ import annotations

from typing import Iterator

from ._findings import Check, Finding, register
from ._state import find_service

CRYPTSVC = "CryptSvc"
CRYPTSVC_START_MODE = "auto"  # Startup type Automatic on Server 2016+ (reference §C.2)


def cryptsvc_findings(state: dict) -> Iterator[Finding]:
    """cryptsvc_state: CryptSvc missing, not running, or not Automatic. Source: seed 002, reference §C.2."""
    service = find_service(state, CRYPTSVC)
    if service is None:
        yield Finding("cryptsvc_state", "service:CryptSvc", "Cryptographic Services (CryptSvc) is not installed",
                      severity="critical", evidence={"exists": False}, fixable=False,
                      fix="reinstall or repair Windows: the System Writer lives in CryptSvc")
        return
    problems = []
    if service["state"] != "running":
        problems.append(f"state is {service['state'] or 'unknown'}, not running")
    if service["start_mode"] != CRYPTSVC_START_MODE:
        problems.append(f"start mode is {service['start_mode']}, not auto")
    if problems:
        yield Finding("cryptsvc_state", f"service:{service['name']}",
                      "Cryptographic Services: " + "; ".join(problems),
                      evidence={"state": service["state"], "start_mode": service["start_mode"]},
                      fix="set CryptSvc to Automatic and start it", fixable=True)


register(Check("cryptsvc", ("cryptsvc_state",), cryptsvc_findings))
