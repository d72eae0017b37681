# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How an assessment is judged (fail_on, waivers, the baseline): the options win_backup_readiness_info and
win_backup_remediate share, each read from the task, else from the fleet report's setting."""


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    DOCUMENTATION = r"""
options:
  fail_on:
    description:
      - The lowest severity that makes the host not ready.
      - When omitted, the fleet report's setting is used (E(BACKUPREADY_FAIL_ON), or C(fail_on) in the
        C([backupready]) section of C(ansible.cfg)), else C(error). The result says which value was used and where
        it came from (RV(settings)), and the report judges from it, so the gate and the report agree.
    type: str
    choices: [info, warning, error, critical]
  waivers:
    description:
      - >-
        Accepted findings. A finding that a waiver matches is returned with RV(findings[].waived=true) and the
        waiver's reason, and does not make the host not ready; it is never dropped. A waiver stops counting the
        day after its C(expires) date, and the finding then says when its waiver expired.
      - >-
        Each waiver is a dict with C(code) (a finding code or a shell pattern), C(reason) (required), C(host) and
        C(subject) (shell patterns, case-insensitive, default C(*)), and C(expires) (YYYY-MM-DD, optional).
        A bad waiver fails the task, naming the entry and the field, before the host is contacted.
    type: list
    elements: dict
    default: []
  waivers_file:
    description:
      - >-
        A YAML or JSON file on the controller holding a list of waivers (the format of O(waivers), with C(host)
        required), added to O(waivers). A relative path is taken from the directory ansible-playbook runs in.
      - When omitted, the fleet report's setting is used (E(BACKUPREADY_WAIVERS_FILE), or C(waivers_file) in the
        C([backupready]) section of C(ansible.cfg), relative to that file's folder).
      - A file that cannot be read or validated fails the task, naming the file, the entry and the field.
    type: path
  baseline:
    description:
      - The C(report.json) of an earlier run of the fleet report. The findings are compared with the host's in it
        (by code and subject) and RV(baseline) lists the new, resolved and unchanged ones. A host the baseline did
        not assess has only new findings.
      - When omitted, E(BACKUPREADY_BASELINE) or C(baseline) in the C([backupready]) section of C(ansible.cfg).
    type: path
  fail_on_new_only:
    description:
      - With O(baseline), RV(gate_passed) is false only when a finding the baseline did not have is at or above
        O(fail_on) and not waived (how code scanners gate CI without blocking on known debt). RV(ready) still
        counts every finding.
      - When omitted, E(BACKUPREADY_FAIL_ON_NEW_ONLY) or C(fail_on_new_only) in C([backupready]), else false.
        Turning it on without a baseline fails the task.
    type: bool
"""
