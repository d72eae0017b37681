"""win_filemaps_acl and win_writer_access end to end with ansible-playbook on snapshot hosts: a broken ACL
fixed, a second run unchanged, an unrelated ACE kept, the SACL kept, check mode touching nothing."""

import json
import os

import pytest

from runner import copy_fleet, playbook, run_json

pytestmark = pytest.mark.playbook

FILEMAPS = "backupready.windows.win_filemaps_acl"
ACCESS = "backupready.windows.win_writer_access"
UNRELATED = "(A;OICI;0x1200a9;;;S-1-5-21-1004336348-1177238915-682003330-1500)"
SACL = "S:ARAI(AU;SAFA;0x1f0116;;;WD)"
MSLLDP_JUSTWORKS = ("D:(D;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BG)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)"
                    "(A;;CCDCLCSWRPDTLOCRSDRCWDWO;;;BA)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SO)"
                    "(A;;LCRPWP;;;S-1-5-80-3141615172-2057878085-1754447212-2405740020-3916490453)(A;;CCLCSWLOCRRC;;;SU)"
                    "S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")


def load(directory, host):
    with open(os.path.join(directory, f"{host}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def save(directory, host, doc):
    with open(os.path.join(directory, f"{host}.json"), "w", encoding="utf-8") as handle:
        json.dump(doc, handle)


def raw(directory, host):
    with open(os.path.join(directory, f"{host}.json"), "rb") as handle:
        return handle.read()


def module_playbook(directory, module, args="{}"):
    return playbook(directory, "pb.yml", f"- hosts: all\n  gather_facts: false\n  tasks:\n    - {module}: {args}\n")


def test_broken_filemaps_acl_is_fixed_keeping_unrelated_aces_and_the_sacl(tmp_path):
    inventory = copy_fleet(tmp_path, ["acl-broken"])
    doc = load(tmp_path, "acl-broken")
    doc["filemaps"]["sddl"] += UNRELATED  # an ACE the policy does not mention: it must survive
    save(tmp_path, "acl-broken", doc)
    pb = module_playbook(tmp_path, FILEMAPS)

    before = raw(tmp_path, "acl-broken")
    checked = run_json(inventory, pb, "--check", "--diff")
    result = checked.results(FILEMAPS)["acl-broken"]
    assert checked.changed("acl-broken") == 1 and raw(tmp_path, "acl-broken") == before
    assert result["findings"] == [] and {f["code"] for f in result["fixed"]} == {"filemaps_acl"}
    assert any("(D;OICI;FR;;;BU)" in d["before"] and "(D;OICI;FR;;;BU)" not in d["after"] for d in result["diff"])

    real = run_json(inventory, pb, "--diff")
    assert real.changed("acl-broken") == 1
    assert real.results(FILEMAPS)["acl-broken"]["diff"] == result["diff"]  # check mode showed exactly this
    after = load(tmp_path, "acl-broken")
    folder = after["filemaps"]["sddl"]
    assert folder.startswith("O:BAG:DUD:") and UNRELATED in folder and "(D;" not in folder
    for grant in ("0x1200a9;;;SY)", "0x1200a9;;;BU)"):
        assert grant in folder
    descriptors = after["filemaps"]["files"]["descriptors"]
    assert sum(d["count"] for d in descriptors) == 3228
    assert all(d["sddl"].endswith(SACL) for d in descriptors), "the SACL of every file is kept"
    assert os.listdir(tmp_path / "backups" / "acl-broken")

    again = run_json(inventory, pb)
    assert again.changed("acl-broken") == 0 and again.results(FILEMAPS)["acl-broken"]["findings"] == []


def test_healthy_hosts_are_left_alone(tmp_path):
    inventory = copy_fleet(tmp_path, ["dc01", "fs01", "web2025"])
    run = run_json(inventory, module_playbook(tmp_path, FILEMAPS))
    assert all(run.changed(h) == 0 for h in ("dc01", "fs01", "web2025"))


def test_bad_domain_sid_fails_naming_it_and_writes_nothing(tmp_path):
    inventory = copy_fleet(tmp_path, ["acl-broken"])
    before = raw(tmp_path, "acl-broken")
    run = run_json(inventory, module_playbook(tmp_path, FILEMAPS, "{dc_owner: domain_admins, domain_sid: 'S-1-5-32'}"))
    assert run.failed("acl-broken") == 1
    assert "domain_sid must look like S-1-5-21" in run.results(FILEMAPS)["acl-broken"]["msg"]
    assert raw(tmp_path, "acl-broken") == before


def test_mslldp_descriptor_gets_the_su_ace_and_nothing_else(tmp_path):
    inventory = copy_fleet(tmp_path, ["lldp"])
    pb = module_playbook(tmp_path, ACCESS)
    first = run_json(inventory, pb)
    result = first.results(ACCESS)["lldp"]
    assert first.changed("lldp") == 1 and result["findings"] == []
    assert [f["subject"] for f in result["fixed"]] == ["service:MSLLDP"]
    mslldp = next(s for s in load(tmp_path, "lldp")["services"] if s["name"] == "MSLLDP")
    assert mslldp["security"] == {"sddl": MSLLDP_JUSTWORKS, "source": "registry"}
    assert run_json(inventory, pb).changed("lldp") == 0


def test_vss_access_control_is_set_for_network_service(tmp_path):
    inventory = copy_fleet(tmp_path, ["vss-acl"])
    pb = module_playbook(tmp_path, ACCESS, "{service_descriptors: false}")
    before = raw(tmp_path, "vss-acl")
    checked = run_json(inventory, pb, "--check")
    assert checked.changed("vss-acl") == 1 and raw(tmp_path, "vss-acl") == before
    assert run_json(inventory, pb).changed("vss-acl") == 1
    values = load(tmp_path, "vss-acl")["vss_access_control"]["values"]
    assert values["NT Authority\\NetworkService"] == {"kind": "REG_DWORD", "data": 1}
    assert values["CONTOSO\\svc-backup"] == {"kind": "REG_DWORD", "data": 1}  # other accounts kept
    assert run_json(inventory, pb).changed("vss-acl") == 0


def test_writer_access_needs_something_to_do(tmp_path):
    inventory = copy_fleet(tmp_path, ["fs01"])
    run = run_json(inventory, module_playbook(tmp_path, ACCESS, "{service_descriptors: false, vss_access_control: false}"))
    assert run.failed("fs01") == 1 and "nothing to do" in run.results(ACCESS)["fs01"]["msg"]
