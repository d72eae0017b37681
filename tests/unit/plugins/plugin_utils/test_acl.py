"""filemaps / PendingRenames ACL policy, VssAccessControl, driver service descriptors (KB 2009272, KB 3209092, the
write-up "System writer is not found in the backup Error (Windows Server Backup)")."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils import _findings
from ansible_collections.backupready.windows.plugins.plugin_utils._acl import (
    ADMINISTRATORS, DEFAULT_FILEMAPS_POLICY, SYSTEM, USERS, WRITER_ACE, FilemapsPolicy, FilemapsPolicyError,
    check_descriptor, filemaps_findings, fix_descriptor, fix_service_sddl, plan_descriptor_fix, plan_filemaps,
    plan_service_security, plan_vss_access_control, service_sd_blocks_writer, service_sd_findings,
    vss_access_control_findings)
from ansible_collections.backupready.windows.plugins.plugin_utils._operations import VSS_ACCESS_CONTROL_KEY
from ansible_collections.backupready.windows.plugins.plugin_utils._twin import apply_to_state
from ansible_collections.backupready.windows.plugins.plugin_utils._sddl import (
    FILE_ALL_ACCESS, FILE_READ_AND_EXECUTE, SddlError, grants, parse_sddl, split_sddl)

from statedoc import TRUSTED_INSTALLER as TI
from statedoc import make_service, make_state
from test_events import KB2009272_MESSAGE, KB3209092_MESSAGE, VSS_8213, capi2
from test_sddl import MSLLDP_DEFAULT, MSLLDP_JUSTWORKS_FIX, MSLLDP_KB_FIX, MUP, NLASVC

SACL = "S:ARAI(AU;SAFA;0x1f0116;;;WD)"
GOOD_FOLDER = f"O:BAG:SYD:PAI(A;OICI;FA;;;{TI})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)"
# A file as Windows keeps it under a healthy filemaps folder: every ACE inherited from the folder.
GOOD_FILE = f"O:BAG:SYD:AI(A;ID;FA;;;{TI})(A;ID;0x1200a9;;;SY)(A;ID;0x1200a9;;;BA)(A;ID;0x1200a9;;;BU){SACL}"
DOMAIN = "S-1-5-21-1004336348-1177238915-682003330"
INTRUDER = DOMAIN + "-4711"  # a domain user who took ownership (demo acl-broken)


def test_checks_are_registered():
    names = {check.name for check in _findings.registered_checks()}
    assert {"filemaps_acl", "vss_access_control", "service_sd_blocks_writer"} <= names


# ---------------------------------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------------------------------

def test_default_policy_is_kb_2009272_in_well_known_sids():
    policy = DEFAULT_FILEMAPS_POLICY
    assert policy.owner_sid == "S-1-5-32-544"
    assert dict(policy.required_grants) == {TI: 0x1F01FF, "S-1-5-18": 0x1200A9, "S-1-5-32-544": 0x1200A9,
                                            "S-1-5-32-545": 0x1200A9}
    assert USERS not in dict(FilemapsPolicy(users_read=False).required_grants)


@pytest.mark.parametrize("policy, owner", [
    (FilemapsPolicy(domain_controller=True), ADMINISTRATORS),
    (FilemapsPolicy(dc_owner="domain_admins"), ADMINISTRATORS),  # not a DC: the DC choice does not apply
    (FilemapsPolicy(dc_owner="domain_admins", domain_controller=True, domain_sid=DOMAIN), DOMAIN + "-512"),
    (FilemapsPolicy(dc_owner="domain_admins", domain_controller=True), None),  # unknown: report, never fix
])
def test_owner_per_policy(policy, owner):
    assert policy.owner_sid == owner


@pytest.mark.parametrize("kwargs, message", [
    ({"dc_owner": "enterprise"}, "dc_owner must be one of"),
    ({"domain_sid": "S-1-5-32"}, "domain_sid must look like"),
])
def test_bad_policy_is_refused(kwargs, message):
    with pytest.raises(FilemapsPolicyError, match=message):
        FilemapsPolicy(**kwargs)


def test_for_host_reads_the_product_type():
    dc = make_state(host=dict(make_state()["host"], product_type="domain_controller"))
    assert DEFAULT_FILEMAPS_POLICY.for_host(dc).domain_controller
    assert not DEFAULT_FILEMAPS_POLICY.for_host(make_state()).domain_controller


# ---------------------------------------------------------------------------------------------------
# check_descriptor / fix_descriptor: tables
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sddl, is_folder", [
    (GOOD_FOLDER, True), (GOOD_FILE, False),
    ("O:BAD:NO_ACCESS_CONTROL", True),  # NULL DACL: everyone has everything
    (f"O:S-1-5-32-544D:(A;;GA;;;{TI})(A;;FRFX;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)", False),
    (f"O:BAD:(D;OICIIO;FA;;;SY)(A;;FA;;;{TI})(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;BU)", False),  # IO deny: not on a file
    (f"O:BAD:(D;;WD;;;SY)(A;;FA;;;{TI})(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;BU)", False),  # deny of a right not needed
])
def test_good_descriptors_have_no_problem_and_are_left_alone(sddl, is_folder):
    assert check_descriptor(sddl, DEFAULT_FILEMAPS_POLICY, is_folder) == []
    assert fix_descriptor(sddl, DEFAULT_FILEMAPS_POLICY, is_folder) == sddl


@pytest.mark.parametrize("sddl, is_folder, fragments", [
    (f"O:{INTRUDER}G:SYD:(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)", False,
     [f"owner is {INTRUDER}, not Administrators (S-1-5-32-544), or TrustedInstaller ({TI}), or SYSTEM (S-1-5-18)"]),
    (f"O:BAD:(A;;FA;;;{TI})(A;;0x1200a9;;;BA)", False,
     ["SYSTEM (S-1-5-18) is not granted read & execute and list (0x1200a9): missing 0x1200a9",
      "Users (S-1-5-32-545) is not granted"]),
    (f"O:BAD:(D;;FA;;;SY)(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)", False,
     ["SYSTEM (S-1-5-18) is denied rights it needs by (D;;FA;;;SY)"]),
    (f"O:BAD:(D;OICIIO;FX;;;BU)(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)", True,
     ["Users (S-1-5-32-545) is denied rights it needs by (D;OICIIO;FX;;;BU)"]),  # the files would inherit it
    (f"O:BAD:(A;;FR;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)", False,
     [f"TrustedInstaller ({TI}) is not granted full control (0x1f01ff): missing 0xd0176"]),
    ("O:BAD:(A;;FA;;;SY", False, ["the descriptor cannot be parsed"]),
])
def test_problems_name_the_principal_and_its_sid(sddl, is_folder, fragments):
    problems = check_descriptor(sddl, DEFAULT_FILEMAPS_POLICY, is_folder)
    for fragment in fragments:
        assert any(fragment in problem for problem in problems), (fragment, problems)


@pytest.mark.parametrize("sddl, is_folder, expected", [
    # Owner only (takeown /a); group and SACL untouched.
    (f"O:{INTRUDER}G:SYD:(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU){SACL}", False,
     f"O:BAG:SYD:(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU){SACL}"),
    # Missing grants added on a file (no inheritance flags), before the inherited ACEs.
    (f"O:BAG:SYD:AI(A;;FA;;;{TI})(A;ID;FA;;;WD){SACL}", False,
     f"O:BAG:SYD:AI(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)(A;ID;FA;;;WD){SACL}"),
    # Folder: OICI on the added ACEs, P/AI kept; CREATOR OWNER kept.
    ("O:BAG:SYD:PAI(A;OICIIO;GA;;;CO)", True,
     f"O:BAG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;{TI})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)"),
    # An allow ACE with too few rights gets the missing bits, flags kept; the deny for SYSTEM is removed.
    (f"O:BAD:P(D;;FA;;;SY)(A;OI;FR;;;SY)(A;;FA;;;{TI})(A;;FX;;;BA)(A;;0x1200a9;;;BU)", True,
     f"O:BAD:P(A;OI;0x1200a9;;;SY)(A;;FA;;;{TI})(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)"),
    # A deny of a right nobody needs is kept, and so is a deny for someone else.
    (f"O:BAD:(D;;WD;;;SY)(D;;FA;;;AN)(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)", False,
     f"O:BAD:(D;;WD;;;SY)(D;;FA;;;AN)(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)"),
])
def test_fix_descriptor(sddl, is_folder, expected):
    assert fix_descriptor(sddl, DEFAULT_FILEMAPS_POLICY, is_folder) == expected


def test_fix_notes_say_what_changed_and_that_denies_were_removed():
    fix = plan_descriptor_fix(f"O:{INTRUDER}D:(D;;FA;;;SY)(A;;FR;;;BA)(A;;FA;;;{TI})", DEFAULT_FILEMAPS_POLICY, False)
    assert fix.changes == (
        f"owner {INTRUDER} -> Administrators (S-1-5-32-544)",
        "removed deny ACE (D;;FA;;;SY) for SYSTEM (S-1-5-18) (it takes away rights the writer needs)",
        "added (A;;0x1200a9;;;SY) for SYSTEM (S-1-5-18)",
        "changed (A;;FR;;;BA) to (A;;0x1200a9;;;BA) for Administrators (S-1-5-32-544)",
        "added (A;;0x1200a9;;;BU) for Users (S-1-5-32-545)",
    )


def test_unparseable_descriptor_is_never_fixed():
    with pytest.raises(FilemapsPolicyError, match="cannot be parsed"):
        fix_descriptor("O:BAD:(A;;FA;;;SY", DEFAULT_FILEMAPS_POLICY, False)


@pytest.mark.parametrize("sddl, is_folder", [
    # The descriptors the demo fleet assumes healthy (presumed, no public source gives it: owner TrustedInstaller; files by SYSTEM).
    (f"O:{TI}G:{TI}D:PAI(A;OICI;FA;;;{TI})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)", True),
    (f"O:SYG:SYD:AI(A;ID;FA;;;{TI})(A;ID;0x1200a9;;;SY)(A;ID;0x1200a9;;;BA)(A;ID;0x1200a9;;;BU){SACL}", False),
])
def test_default_owners_are_accepted_unless_the_policy_says_otherwise(sddl, is_folder):
    assert check_descriptor(sddl, DEFAULT_FILEMAPS_POLICY, is_folder) == []
    strict = FilemapsPolicy(accepted_owners=())
    (problem,) = check_descriptor(sddl, strict, is_folder)
    assert problem.startswith("owner is ") and problem.endswith("not Administrators (S-1-5-32-544)")
    assert fix_descriptor(sddl, strict, is_folder).startswith("O:BAG:")


def test_accepted_owners_must_be_sids():
    with pytest.raises(FilemapsPolicyError, match="accepted_owners must be full SIDs"):
        FilemapsPolicy(accepted_owners=("TI",))


def test_domain_admins_owner_unknown_is_reported_not_fixed():
    policy = FilemapsPolicy(dc_owner="domain_admins", domain_controller=True)
    assert "domain SID is unknown" in check_descriptor(GOOD_FILE, policy, False)[0]
    with pytest.raises(FilemapsPolicyError, match="domain SID is unknown"):
        fix_descriptor(GOOD_FILE, policy, False)
    already = GOOD_FILE.replace("O:BA", "O:DA")
    assert check_descriptor(already, policy, False) == []


def test_domain_admins_owner_known_is_set():
    policy = FilemapsPolicy(dc_owner="domain_admins", domain_controller=True, domain_sid=DOMAIN)
    fixed = fix_descriptor(GOOD_FILE, policy, False)
    assert fixed.startswith(f"O:{DOMAIN}-512G:SY")
    assert check_descriptor(fixed, policy, False) == []
    assert check_descriptor(GOOD_FILE.replace("O:BA", "O:DA"), policy, False) == []


# ---------------------------------------------------------------------------------------------------
# fix is idempotent and makes check happy: property test over a small ACE alphabet
# ---------------------------------------------------------------------------------------------------

ACES = [f"(A;;FA;;;{TI})", f"(A;ID;FA;;;{TI})", "(A;;FA;;;SY)", "(D;;FA;;;SY)", "(D;;WD;;;SY)", "(A;;FR;;;SY)",
        "(A;OICI;0x1200a9;;;BA)", "(A;;GR;;;BA)", "(D;ID;FX;;;BA)", "(D;OICIIO;GA;;;BU)", "(A;ID;0x1200a9;;;BU)",
        "(A;;0x1;;;BU)", "(A;OICIIO;GA;;;CO)", "(A;ID;GA;;;SY)", "(XA;;FX;;;WD;(@User.x==\"y\"))",
        "(XD;;FA;;;SY;(@User.x==1))", "(OA;;CC;bf967a7f-0de6-11d0-a285-00aa003049e2;;BA)", "(D;;FA;;;AN)"]
POLICIES = [DEFAULT_FILEMAPS_POLICY, FilemapsPolicy(users_read=False), FilemapsPolicy(accepted_owners=()),
            FilemapsPolicy(dc_owner="domain_admins", domain_controller=True, domain_sid=DOMAIN),
            FilemapsPolicy(dc_owner="domain_admins", domain_controller=True)]
descriptors = st.builds(
    lambda owner, group, dacl, sacl: owner + group + dacl + sacl,
    st.sampled_from(["", "O:BA", "O:SY", f"O:{TI}", f"O:{DOMAIN}-512", "O:DA", f"O:{INTRUDER}", "O:BU"]),
    st.sampled_from(["", "G:SY"]),
    st.one_of(st.just(""), st.just("D:NO_ACCESS_CONTROL"),
              st.builds(lambda flags, aces: "D:" + flags + "".join(aces), st.sampled_from(["", "P", "PAI", "AI"]),
                        st.lists(st.sampled_from(ACES), max_size=7))),
    st.sampled_from(["", SACL]))


def _shape(ace):
    return (ace.type, ace.flags, ace.trustee, ace.extra, ace.object_guid)


def _is_subsequence(small, big):
    it = iter(big)
    return all(any(item == other for other in it) for item in small)


@settings(max_examples=300)
@given(sddl=descriptors, policy=st.sampled_from(POLICIES), is_folder=st.booleans())
def test_fix_is_idempotent_and_leaves_nothing_to_report(sddl, policy, is_folder):
    problems = check_descriptor(sddl, policy, is_folder)
    try:
        fixed = fix_descriptor(sddl, policy, is_folder)
    except FilemapsPolicyError as exc:
        # Only the unknown Domain Admins owner, or a deny a file inherits from its folder (only the folder's fix
        # can remove it: Windows recomputes inherited ACEs), stops a fix.
        inherited_deny = "which it inherits" in str(exc)
        null_dacl = "the DACL is NULL or missing" in str(exc)  # never written back (docs/write-path.md section 2)
        assert problems and (policy.owner_sid is None or inherited_deny or null_dacl)
        return
    assert check_descriptor(fixed, policy, is_folder) == []
    assert fix_descriptor(fixed, policy, is_folder) == fixed
    if not problems:
        assert fixed == sddl
    before, after = split_sddl(sddl), split_sddl(fixed)
    assert (before.get("G"), before.get("S")) == (after.get("G"), after.get("S"))
    old, new = parse_sddl(sddl), parse_sddl(fixed)
    if old.dacl is not None:
        assert old.dacl.flags == new.dacl.flags
        kept = [_shape(a) for a in old.dacl.aces if not a.is_deny]
        assert _is_subsequence(kept, [_shape(a) for a in new.dacl.aces])
        assert all(a in old.dacl.aces for a in new.dacl.aces if a.is_deny)
        if not old.dacl.is_null:
            for sid, needed in policy.required_grants:
                assert grants(new, {sid}, needed, "file")


# ---------------------------------------------------------------------------------------------------
# filemaps_acl over a state document, and the planner
# ---------------------------------------------------------------------------------------------------

def broken_state(**overrides):
    """Owner taken on the folder, two file descriptors needing a fix, PendingRenames without Users, a 513 event."""
    filemaps = {
        "path": "C:\\Windows\\winsxs\\filemaps",
        "exists": True,
        "sddl": f"O:{INTRUDER}G:SYD:PAI(A;OICI;FA;;;{TI})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)",
        "files": {"count": 12, "descriptors": [
            {"sddl": GOOD_FILE, "count": 5, "samples": ["$$.cdf-ms"]},
            # Protected, TrustedInstaller only: the folder's grants do not reach these files.
            {"sddl": f"O:{TI}G:SYD:PAI(A;;FA;;;{TI}){SACL}", "count": 4,
             "samples": ["_0000000000000000.cdf-ms", "$$_system32_21f9a9c4a2f8b514.cdf-ms"]},
            # An explicit deny ahead of the inherited grants.
            {"sddl": f"O:BAG:SYD:AI(D;;FA;;;SY)(A;ID;FA;;;{TI})(A;ID;0x1200a9;;;SY)(A;ID;0x1200a9;;;BA)"
                     f"(A;ID;0x1200a9;;;BU){SACL}",
             "count": 3, "samples": ["programdata_microsoft_windows_wer_temp_783673b09e921b6b.cdf-ms"]},
        ]},
    }
    pending = {"path": "C:\\Windows\\winsxs\\temp\\PendingRenames", "exists": True,
               "sddl": f"O:BAG:SYD:PAI(A;OICI;FA;;;{TI})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)"}
    values = {"filemaps": filemaps, "pending_renames": pending, "events": [capi2(KB2009272_MESSAGE)]}
    values.update(overrides)
    return make_state(**values)


def test_healthy_state_has_no_filemaps_finding_and_no_plan():
    state = make_state()
    assert list(filemaps_findings(state)) == []
    assert plan_filemaps(state, DEFAULT_FILEMAPS_POLICY, {"folder", "files", "pending_renames"}) == ([], [])


def test_broken_state_findings():
    findings = list(filemaps_findings(broken_state()))
    assert [(f.code, f.subject) for f in findings] == [
        ("filemaps_acl", "path:C:\\Windows\\winsxs\\filemaps"),
        ("filemaps_acl", "files:C:\\Windows\\winsxs\\filemaps\\*"),
        ("filemaps_acl", "files:C:\\Windows\\winsxs\\filemaps\\*"),
        ("filemaps_acl", "path:C:\\Windows\\winsxs\\temp\\PendingRenames"),
    ]
    folder, files_ti, files_deny, pending = findings
    assert f"owner is {INTRUDER}, not Administrators" in folder.message and folder.fixable
    assert files_ti.evidence["count"] == 4 and files_ti.evidence["samples"][0] == "_0000000000000000.cdf-ms"
    assert any("SYSTEM (S-1-5-18) is not granted" in p for p in files_ti.evidence["problems"])
    assert "denied rights it needs by (D;;FA;;;SY)" in files_deny.message
    assert "Users (S-1-5-32-545) is not granted" in pending.message
    assert folder.evidence["events"] == [{"time_created": "2026-11-01T09:00:00Z",
                                          "detail": "AddCoreCsiFiles: BeginFileEnumeration() failed.",
                                          "system_error": "Access is denied."}]
    assert all(f.severity == "critical" for f in findings)


def test_plan_applies_keeps_the_sacl_and_replans_to_nothing():
    state = broken_state()
    ops, rows = plan_filemaps(state, DEFAULT_FILEMAPS_POLICY, {"folder", "files", "pending_renames"})
    assert [(op["target"], op["path"]) for op in ops] == [
        ("folder", "C:\\Windows\\winsxs\\filemaps"), ("files", "C:\\Windows\\winsxs\\filemaps"),
        ("files", "C:\\Windows\\winsxs\\filemaps"), ("folder", "C:\\Windows\\winsxs\\temp\\PendingRenames")]
    assert all("G:" not in op["expect"] + op["set"] and "S:" not in op["expect"] + op["set"] for op in ops)
    assert rows[0]["changes"] == [f"owner {INTRUDER} -> Administrators (S-1-5-32-544)"]
    assert rows[1]["changes"][0] == "added (A;;0x1200a9;;;SY) for SYSTEM (S-1-5-18)"  # owner TrustedInstaller kept
    assert rows[2]["changes"] == [
        "removed deny ACE (D;;FA;;;SY) for SYSTEM (S-1-5-18) (it takes away rights the writer needs)"]
    after, outcome = apply_to_state(state, ops)
    assert not outcome.refused and outcome.changed, outcome.msg
    descriptors = after["filemaps"]["files"]["descriptors"]
    assert sum(d["count"] for d in descriptors) == 12
    assert all(d["sddl"].endswith(SACL) for d in descriptors)
    assert after["filemaps"]["sddl"].startswith("O:BAG:SY")
    assert list(filemaps_findings(after)) == []
    assert plan_filemaps(after, DEFAULT_FILEMAPS_POLICY, {"folder", "files", "pending_renames"}) == ([], [])


def test_same_owner_and_dacl_with_different_sacls_is_one_operation():
    bad = f"O:BAG:SYD:PAI(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)"
    fixed = f"O:BAG:SYD:PAI(A;;FA;;;{TI})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)"
    state = broken_state()
    state["filemaps"]["files"]["descriptors"] = [
        {"sddl": bad + SACL, "count": 2, "samples": ["a.cdf-ms"]}, {"sddl": bad, "count": 1, "samples": ["b.cdf-ms"]}]
    ops, rows = plan_filemaps(state, DEFAULT_FILEMAPS_POLICY, {"files"})
    assert len(ops) == 1 and rows[0]["count"] == 3
    after, outcome = apply_to_state(state, ops)
    assert not outcome.refused
    assert sorted(d["sddl"] for d in after["filemaps"]["files"]["descriptors"]) == sorted([fixed + SACL, fixed])


def test_scope_limits_the_plan():
    ops, _unused = plan_filemaps(broken_state(), DEFAULT_FILEMAPS_POLICY, {"pending_renames"})
    assert [op["path"] for op in ops] == ["C:\\Windows\\winsxs\\temp\\PendingRenames"]
    with pytest.raises(ValueError, match="unknown filemaps scope registry"):
        plan_filemaps(broken_state(), DEFAULT_FILEMAPS_POLICY, {"registry"})


def test_missing_filemaps_is_a_finding_without_fix_and_missing_pending_renames_is_normal():
    state = make_state(filemaps={"path": "C:\\Windows\\winsxs\\filemaps", "exists": False, "sddl": None},
                       pending_renames={"path": "C:\\Windows\\winsxs\\temp\\PendingRenames", "exists": False, "sddl": None})
    findings = list(filemaps_findings(state))
    assert [(f.subject, f.fixable) for f in findings] == [("path:C:\\Windows\\winsxs\\filemaps", False)]
    assert plan_filemaps(state, DEFAULT_FILEMAPS_POLICY, {"folder", "files", "pending_renames"}) == ([], [])


def test_unreadable_or_unparseable_security_is_reported_not_fixed():
    state = broken_state()
    state["filemaps"]["sddl"] = None
    state["filemaps"]["error"] = "Access is denied"
    state["pending_renames"]["sddl"] = "O:BAD:(A;;FA;;;SY"
    findings = list(filemaps_findings(state))
    assert findings[0].message.endswith("could not be read: Access is denied") and not findings[0].fixable
    assert "cannot be parsed" in findings[-1].message and not findings[-1].fixable
    ops, rows = plan_filemaps(state, DEFAULT_FILEMAPS_POLICY, {"folder", "pending_renames"})
    assert ops == [] and "cannot be parsed" in rows[0]["skipped"]


def test_domain_controller_with_domain_admins_owner():
    host = dict(make_state()["host"], product_type="domain_controller")
    state = broken_state(host=host)
    unknown = FilemapsPolicy(dc_owner="domain_admins")
    findings = list(filemaps_findings(state, unknown))
    # Folder (owner a user), BA-owned files and PendingRenames must change owner: not fixable without the domain SID;
    # the TrustedInstaller-owned files (an accepted owner) only need grants: fixable.
    assert [f.fixable for f in findings] == [False, False, True, False, False]
    assert "the domain SID is unknown" in findings[0].message
    ops, rows = plan_filemaps(state, unknown, {"folder"})
    assert ops == [] and "domain SID is unknown" in rows[0]["skipped"]
    known = FilemapsPolicy(dc_owner="domain_admins", domain_sid=DOMAIN)
    ops, _unused = plan_filemaps(state, known, {"folder", "files", "pending_renames"})
    after, outcome = apply_to_state(state, ops)
    assert not outcome.refused
    assert after["filemaps"]["sddl"].startswith(f"O:{DOMAIN}-512")
    assert list(filemaps_findings(after, known)) == []


def test_users_read_false_does_not_require_users():
    state = broken_state()
    state["filemaps"]["sddl"] = GOOD_FOLDER
    state["filemaps"]["files"]["descriptors"] = [{"sddl": GOOD_FILE, "count": 1, "samples": ["a"]}]
    assert [f.subject for f in filemaps_findings(state)] == ["path:C:\\Windows\\winsxs\\temp\\PendingRenames"]
    assert list(filemaps_findings(state, FilemapsPolicy(users_read=False))) == []


# ---------------------------------------------------------------------------------------------------
# vss_access_control (KB 2009272)
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, flagged", [
    ({"NT Authority\\NetworkService": {"kind": "REG_DWORD", "data": 1}}, False),  # what real systems carry
    ({"NT AUTHORITY\\NETWORK SERVICE": {"kind": "REG_DWORD", "data": 1}}, False),  # the KB's spelling
    ({"nt authority\\networkservice": {"kind": "REG_DWORD", "data": 1}}, False),
    ({"NT Authority\\NetworkService": {"kind": "REG_DWORD", "data": 0}}, True),
    ({"NT Authority\\NetworkService": {"kind": "REG_SZ", "data": "1"}}, True),
    ({"NT AUTHORITY\\LOCAL SERVICE": {"kind": "REG_DWORD", "data": 1}}, True),
    ({}, True),
])
def test_vss_access_control_finding(values, flagged):
    state = make_state(vss_access_control={"key_exists": True, "values": values})
    assert bool(list(vss_access_control_findings(state))) is flagged
    assert bool(plan_vss_access_control(state)[0]) is flagged


def test_vss_access_control_evidence_and_plan_for_a_zero_value():
    event = {"log": "Application", "provider": "VSS", "id": 8213, "time_created": "t", "message": VSS_8213, "properties": []}
    state = make_state(vss_access_control={"key_exists": True, "values": {
        "NT Authority\\NetworkService": {"kind": "REG_DWORD", "data": 0}}}, events=[event])
    (finding,) = vss_access_control_findings(state)
    assert finding.subject == f"registry:{VSS_ACCESS_CONTROL_KEY}"
    assert finding.evidence["events"][0]["system_writer"] is True
    ops, _unused = plan_vss_access_control(state)
    assert ops == [{"op": "registry_value", "key": VSS_ACCESS_CONTROL_KEY, "name": "NT Authority\\NetworkService",
                    "expect": {"kind": "REG_DWORD", "data": 0}, "set": {"kind": "REG_DWORD", "data": 1}}]
    after, outcome = apply_to_state(state, ops)
    assert not outcome.refused and list(vss_access_control_findings(after)) == []
    assert plan_vss_access_control(after) == ([], [])


def test_vss_access_control_writes_the_kb_spelling_when_no_value_exists():
    state = make_state(vss_access_control={"key_exists": False, "values": {}})
    ops, _unused = plan_vss_access_control(state)
    assert (ops[0]["name"], ops[0]["expect"]) == ("NT AUTHORITY\\NETWORK SERVICE", {"kind": "missing", "data": None})
    after, outcome = apply_to_state(state, ops)
    assert not outcome.refused and after["vss_access_control"]["key_exists"]
    assert plan_vss_access_control(after) == ([], [])


# ---------------------------------------------------------------------------------------------------
# service_sd_blocks_writer (KB 3209092)
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sddl, blocked", [
    (MSLLDP_DEFAULT, True), (MSLLDP_KB_FIX, False), (MSLLDP_JUSTWORKS_FIX, False), (MUP, False),
    ("D:(A;;CC;;;AU)", False), ("D:(A;;CC;;;WD)", False), ("D:(A;;CC;;;NS)", False), ("D:(A;;GR;;;BU)", False),
    ("D:(A;;LCRP;;;SU)", True), ("D:(A;;CC;;;IU)", True), ("D:", True), ("O:SY", False),
])
def test_service_sd_blocks_writer(sddl, blocked):
    assert service_sd_blocks_writer(sddl) is blocked


def test_mslldp_fix_equals_the_published_fix_exactly():
    assert fix_service_sddl(MSLLDP_DEFAULT) == MSLLDP_JUSTWORKS_FIX


@pytest.mark.parametrize("sddl, expected", [
    ("D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)", "D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)" + WRITER_ACE),  # no SACL: at the end
    (MSLLDP_KB_FIX, MSLLDP_KB_FIX), (MUP, MUP),  # already granted: untouched
    ("S:(AU;FA;GA;;;WD)D:(A;;GA;;;SY)", "S:(AU;FA;GA;;;WD)D:(A;;GA;;;SY)" + WRITER_ACE),  # SACL first: into the DACL
])
def test_fix_service_sddl(sddl, expected):
    assert fix_service_sddl(sddl) == expected
    assert fix_service_sddl(fix_service_sddl(sddl)) == fix_service_sddl(sddl)


def test_a_deny_for_the_writer_makes_the_fix_useless_so_it_is_refused():
    with pytest.raises(ValueError, match="would not help"):
        fix_service_sddl("D:(D;;CC;;;WD)(A;;GA;;;SY)")


def test_unparseable_service_sddl_raises():
    with pytest.raises(SddlError):
        service_sd_blocks_writer("D:(A;;CC;;;SU")


def service_state(*services, events=()):
    base = make_state()["services"]
    return make_state(services=base + list(services), events=list(events))


def test_service_findings_map_the_513_display_name():
    mslldp = make_service("MsLldp", "system32\\DRIVERS\\mslldp.sys", type_=1, start_mode="auto",
                          display_name="Microsoft Link-Layer Discovery Protocol", sddl=MSLLDP_DEFAULT)
    mup = make_service("Mup", "\\SystemRoot\\System32\\Drivers\\mup.sys", type_=2, display_name="Mup", sddl=MUP)
    win32 = make_service("Blocked", "C:\\b.exe", type_=0x10, sddl="D:(A;;CC;;;SY)")  # not a driver: not enumerated here
    state = service_state(mslldp, mup, win32, events=[capi2(KB3209092_MESSAGE)])
    (finding,) = service_sd_findings(state)
    assert finding.subject == "service:MsLldp" and finding.fixable and finding.source == "KB 3209092"
    assert finding.evidence["display_name"] == "Microsoft Link-Layer Discovery Protocol"
    assert finding.evidence["sddl"] == MSLLDP_DEFAULT
    assert finding.evidence["capi2_513"][0]["system_error"] == "Access is denied."
    ops, rows = plan_service_security(state)
    assert ops == [{"op": "service_security", "service": "MsLldp", "expect": MSLLDP_DEFAULT, "set": MSLLDP_JUSTWORKS_FIX}]
    after, outcome = apply_to_state(state, ops)
    assert not outcome.refused
    assert list(service_sd_findings(after)) == [] and plan_service_security(after) == ([], [])


def test_default_descriptors_are_not_flagged_and_unparseable_ones_are_reported_only():
    default = make_service("Default", "\\SystemRoot\\System32\\drivers\\d.sys", type_=1)  # source "default"
    broken = make_service("Broken", "\\SystemRoot\\System32\\drivers\\b.sys", type_=1, sddl="D:(A;;CC;;;SU")
    denied = make_service("Denied", "\\SystemRoot\\System32\\drivers\\x.sys", type_=1, sddl="D:(D;;CC;;;WD)(A;;GA;;;SY)")
    state = service_state(default, broken, denied)
    findings = {f.subject: f for f in service_sd_findings(state)}
    assert set(findings) == {"service:Broken", "service:Denied"}
    assert "cannot be parsed" in findings["service:Broken"].message and not findings["service:Broken"].fixable
    assert not findings["service:Denied"].fixable and "would not help" in findings["service:Denied"].fix
    ops, rows = plan_service_security(state)
    assert ops == [] and {r["service"] for r in rows} == {"Broken", "Denied"}


def test_plan_service_security_can_be_limited_to_named_services():
    one = make_service("One", "\\SystemRoot\\a.sys", type_=1, sddl=MSLLDP_DEFAULT)
    two = make_service("Two", "\\SystemRoot\\b.sys", type_=1, sddl=MSLLDP_DEFAULT.replace(NLASVC, "SY"))
    ops, _unused = plan_service_security(service_state(one, two), services=["two"])
    assert [op["service"] for op in ops] == ["Two"]


def test_well_known_constants():
    assert (SYSTEM, ADMINISTRATORS, USERS) == ("S-1-5-18", "S-1-5-32-544", "S-1-5-32-545")
    assert (FILE_ALL_ACCESS, FILE_READ_AND_EXECUTE) == (0x1F01FF, 0x1200A9)
