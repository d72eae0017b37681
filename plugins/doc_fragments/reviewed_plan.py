# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reviewed plan (host or play variable backupready_plan_dir), shared by every module that writes."""


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    DOCUMENTATION = r"""
options: {}
notes:
  - >-
    Reviewed plan. With the variable C(backupready_plan_dir) (a folder on the controller, relative to where
    C(ansible-playbook) runs; a host, group, play or extra variable), a run in check mode records in
    C(<folder>/<host>.json) the operations this task would apply on the host, none included. A real run given the
    same folder applies them only when it plans exactly those operations now; otherwise the task fails before
    anything is written, naming the task, the operation and the value in the plan and now. It also fails when the
    host or the task has no recorded plan, or when the plan was made for another host. A task is found again by
    its role, name and module (and loop item). The result's C(reviewed_plan) gives the file, the task and
    C(recorded) or C(matched).
"""
