"""SDDL parser/writer, rights masks, SID aliases and the effective-grant check (KB 3209092, KB 2009272)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils._sddl import (
    FILE_ALL_ACCESS, FILE_READ_AND_EXECUTE, SERVICE_QUERY_CONFIG, TRUSTED_INSTALLER_SID, Ace, SddlError,
    SecurityDescriptor, deny_aces_for, format_sddl, grants, join_sddl, map_generic, owner_and_dacl, parse_sddl,
    resolve_sid, rights_mask, sid_name, split_sddl)

NLASVC = "S-1-5-80-3141615172-2057878085-1754447212-2405740020-3916490453"
# KB 3209092, verbatim (the "sc sdset mslldp " prefix removed).
MSLLDP_DEFAULT = (
    "D:(D;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BG)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCDCLCSWRPDTLOCRSDRCWDWO;;;BA)"
    "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SO)(A;;LCRPWP;;;" + NLASVC + ")S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")
MSLLDP_KB_FIX = (
    "D:(D;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BG)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCDCLCSWRPDTLOCRSDRCWDWO;;;BA)"
    "(A;;CCLCSWRPWPDTLOCRRC;;;SO)(A;;LCRPWP;;;" + NLASVC + ")(A;;CCLCSWLOCRRC;;;SU)")
MSLLDP_JUSTWORKS_FIX = (
    "D:(D;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BG)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCDCLCSWRPDTLOCRSDRCWDWO;;;BA)"
    "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SO)(A;;LCRPWP;;;" + NLASVC + ")(A;;CCLCSWLOCRRC;;;SU)"
    "S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")
MUP = ("D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)(A;;CCLCSWLOCRRC;;;IU)"
       "(A;;CCLCSWLOCRRC;;;SU)S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")
FILEMAPS_SACL = "S:ARAI(AU;SAFA;0x1f0116;;;WD)"  # TiWorker on filemaps files
FOLDER = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICIIO;GA;;;CO)"

WRITER_TOKEN = {"S-1-5-20", "S-1-5-6", "S-1-5-11", "S-1-1-0", "S-1-5-32-545"}

ROUND_TRIP = [
    MSLLDP_DEFAULT, MSLLDP_KB_FIX, MSLLDP_JUSTWORKS_FIX, MUP, FILEMAPS_SACL, FOLDER,
    f"O:BAG:SYD:(A;;FA;;;{TRUSTED_INSTALLER_SID})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU){FILEMAPS_SACL}",
    "O:S-1-5-21-1004336348-1177238915-682003330-512G:DUD:AI(A;ID;0x1200A9;;;BU)",
    "D:NO_ACCESS_CONTROL",
    "D:",
    "D:P",
    "",
    "G:SYO:BA",  # sections in an unusual order are written back in that order
    "D:(XA;;FX;;;S-1-1-0;(@User.Title==\"PM\" && (@User.Division==\"Fin;ance)\")))",
    "S:(RA;CI;;;;S-1-1-0;(\"Project\",TS,0,\"Windows\",\"SQL\"))",
    "D:(OA;CI;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;PS)",
    "S:(ML;;NW;;;LW)",
    "D:(ZZ;;FA;;;SY)",  # unknown ACE type: kept verbatim, marked
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_format_of_parse_is_byte_for_byte(text):
    assert format_sddl(parse_sddl(text)) == text


def test_parse_fields_of_the_mslldp_default():
    sd = parse_sddl(MSLLDP_DEFAULT)
    assert sd.owner is None and sd.group is None
    assert [ace.trustee for ace in sd.dacl.aces] == ["BG", "SY", "BA", "SO", NLASVC]
    assert sd.dacl.aces[0].type == "D" and sd.dacl.aces[0].is_deny
    assert sd.sacl.aces[0] == Ace("AU", ("FA",), "CCDCLCSWRPWPDTLOCRSDRCWDWO", "", "", "WD")


def test_parse_fields_of_a_folder_descriptor():
    sd = parse_sddl(FOLDER)
    assert (sd.owner, sd.group, sd.dacl.flags) == ("BA", "SY", ("P", "AI"))
    assert sd.dacl.aces[1].flags == ("OI", "CI", "IO") and sd.dacl.aces[1].inherit_only
    assert sd.sacl is None


def test_sacl_flags_and_hex_rights():
    sd = parse_sddl(FILEMAPS_SACL)
    assert sd.sacl.flags == ("AR", "AI")
    assert sd.sacl.aces[0].flags == ("SA", "FA") and sd.sacl.aces[0].mask == 0x1F0116


def test_conditional_data_is_kept_verbatim():
    ace = parse_sddl(ROUND_TRIP[13]).dacl.aces[0]
    assert ace.extra == "(@User.Title==\"PM\" && (@User.Division==\"Fin;ance)\"))"


def test_unknown_ace_type_is_marked():
    ace = parse_sddl("D:(ZZ;;FA;;;SY)").dacl.aces[0]
    assert not ace.known_type and not ace.is_allow and not ace.is_deny
    assert parse_sddl(MUP).dacl.aces[0].known_type


def test_null_and_empty_dacl():
    assert parse_sddl("D:NO_ACCESS_CONTROL").dacl.is_null
    assert parse_sddl("D:").dacl.aces == () and not parse_sddl("D:").dacl.is_null


@pytest.mark.parametrize("text, position, expected", [
    ("D:(A;;FA;;;SY", 13, "')' closing the ACE"),
    ("X:BA", 0, "a section marker"),
    ("D:(A;;QQ;;;SY)", 6, "rights letter pair"),
    ("D:(A;;FAF;;;SY)", 6, "rights as hex"),
    ("O:", 2, "a SID"),
    ("O:ba", 2, "a SID"),
    ("D:(A;ZZ;FA;;;SY)", 5, "an ACE flag"),
    ("D:(A;OIC;FA;;;SY)", 5, "ACE flags in pairs"),
    ("D:(A;;FA;;;S-1-)", 11, "ACE trustee"),
    ("D:(A;;FA;;;)", 11, "ACE trustee"),
    ("D:(A;;FA;;SY)", 12, "';' after the inherited object GUID"),
    ("D:(A;;FA;xyz;;SY)", 9, "a GUID"),
    ("D:(;;FA;;;SY)", 3, "an ACE type"),
    ("D:PQ", 3, "ACL flags"),
    ("D:(A;;FA;;;SY)x", 14, "the next section"),
    ("O:BAO:SY", 4, "each section once"),
    ("O:BAX", 4, "the next section"),
    ("D:(A;;FA;;;SY;(@x==1)", 21, "')' closing the ACE"),
    ("D:(A;(;FA;;;SY)", 5, "';' or ')'"),
])
def test_malformed_text_names_the_position(text, position, expected):
    with pytest.raises(SddlError) as info:
        parse_sddl(text)
    assert info.value.position == position
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_string_is_an_sddl_error():
    with pytest.raises(SddlError):
        parse_sddl(None)


@settings(max_examples=400)
@given(st.text(alphabet="OGDS:()AIPCRFX;-0123456789xSYBWU\"@ ", max_size=40))
def test_arbitrary_text_parses_and_round_trips_or_raises_sddl_error(text):
    try:
        sd = parse_sddl(text)
    except SddlError:
        return
    assert format_sddl(sd) == text


ACE_ALPHABET = ["(A;;FA;;;SY)", "(D;;FA;;;BU)", "(A;OICIIO;GA;;;CO)", "(A;ID;0x1200a9;;;BA)", f"(A;;FA;;;{TRUSTED_INSTALLER_SID})",
                "(XA;;FX;;;WD;(@User.x==\"a)\"))", "(OA;;CC;bf967a7f-0de6-11d0-a285-00aa003049e2;;PS)", "(AU;SAFA;0x1f0116;;;WD)"]


@given(owner=st.sampled_from(["", "O:BA", "O:SY", "O:S-1-5-21-1-2-3-500"]), group=st.sampled_from(["", "G:SY"]),
       dflags=st.sampled_from(["", "P", "PAI", "AI", "NO_ACCESS_CONTROL"]), dacl=st.lists(st.sampled_from(ACE_ALPHABET), max_size=6),
       sacl=st.sampled_from(["", FILEMAPS_SACL, "S:"]))
def test_generated_descriptors_round_trip(owner, group, dflags, dacl, sacl):
    text = owner + group + "D:" + dflags + "".join(dacl) + sacl
    assert format_sddl(parse_sddl(text)) == text


# ---------------------------------------------------------------------------------------------------
# Legacy helpers used by _operations: unchanged behaviour
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    (FOLDER, {"O": "BA", "G": "SY", "D": "PAI(A;OICI;FA;;;SY)(A;OICIIO;GA;;;CO)"}),
    (MSLLDP_DEFAULT, {"D": MSLLDP_DEFAULT[2:MSLLDP_DEFAULT.index("S:")], "S": "(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)"}),
    ("", {}),
    (None, {}),
])
def test_split_sddl(text, expected):
    assert split_sddl(text) == expected


def test_owner_and_dacl_drops_group_and_sacl():
    text = f"O:BAG:SYD:(A;;FA;;;{TRUSTED_INSTALLER_SID}){FILEMAPS_SACL}"
    assert owner_and_dacl(text) == f"O:BAD:(A;;FA;;;{TRUSTED_INSTALLER_SID})"
    assert owner_and_dacl(None) is None
    assert join_sddl({"S": "", "O": "BA"}) == "O:BAS:"


# ---------------------------------------------------------------------------------------------------
# Rights and SIDs
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rights, mask", [
    ("CC", 0x1), ("DC", 0x2), ("LC", 0x4), ("SW", 0x8), ("RP", 0x10), ("WP", 0x20), ("DT", 0x40), ("LO", 0x80),
    ("CR", 0x100), ("SD", 0x10000), ("RC", 0x20000), ("WD", 0x40000), ("WO", 0x80000),
    ("CCLCSWLOCRRC", 0x2018D),  # the KB 3209092 ACE
    ("CCDCLCSWRPWPDTLOCRSDRCWDWO", 0xF01FF),  # = SERVICE_ALL_ACCESS
    ("FA", 0x1F01FF), ("FR", 0x120089), ("FX", 0x1200A0), ("FW", 0x120116),
    ("FRFX", 0x1200A9), ("0x1200a9", 0x1200A9), ("0x1f0116", 0x1F0116), ("", 0),
    ("GA", 0x10000000), ("GR", 0x80000000), ("GW", 0x40000000), ("GX", 0x20000000),
])
def test_rights_mask(rights, mask):
    assert rights_mask(rights) == mask


@pytest.mark.parametrize("rights, object_type, mask", [
    ("GA", "file", FILE_ALL_ACCESS), ("GR", "file", 0x120089), ("GW", "file", 0x120116), ("GX", "file", 0x1200A0),
    ("GRGX", "file", FILE_READ_AND_EXECUTE),
    ("GA", "service", 0xF01FF), ("GR", "service", 0x2008D), ("GW", "service", 0x20002), ("GX", "service", 0x20170),
    ("GRSD", "service", 0x3008D), ("CC", "file", 0x1),
])
def test_generic_mapping(rights, object_type, mask):
    assert map_generic(rights_mask(rights), object_type) == mask


def test_generic_mapping_refuses_unknown_object_types():
    with pytest.raises(ValueError, match="unknown object type 'registry'"):
        map_generic(0x1, "registry")


@pytest.mark.parametrize("trustee, domain_sid, sid", [
    ("SY", None, "S-1-5-18"), ("BA", None, "S-1-5-32-544"), ("BU", None, "S-1-5-32-545"), ("SU", None, "S-1-5-6"),
    ("NS", None, "S-1-5-20"), ("LS", None, "S-1-5-19"), ("AU", None, "S-1-5-11"), ("IU", None, "S-1-5-4"),
    ("WD", None, "S-1-1-0"), ("BG", None, "S-1-5-32-546"), ("SO", None, "S-1-5-32-549"), ("CO", None, "S-1-3-0"),
    ("AN", None, "S-1-5-7"), ("PS", None, "S-1-5-10"), ("BO", None, "S-1-5-32-551"), ("PU", None, "S-1-5-32-547"),
    ("DA", None, None), ("DA", "S-1-5-21-1-2-3", "S-1-5-21-1-2-3-512"), ("DU", "S-1-5-21-1-2-3", "S-1-5-21-1-2-3-513"),
    (NLASVC, None, NLASVC), ("QQ", None, None),
])
def test_resolve_sid(trustee, domain_sid, sid):
    assert resolve_sid(trustee, domain_sid) == sid


def test_sid_name_gives_the_name_and_the_sid():
    assert sid_name("S-1-5-32-544") == "Administrators (S-1-5-32-544)"
    assert sid_name(TRUSTED_INSTALLER_SID) == f"TrustedInstaller ({TRUSTED_INSTALLER_SID})"
    assert sid_name("S-1-5-21-1-2-3-1001") == "S-1-5-21-1-2-3-1001"


# ---------------------------------------------------------------------------------------------------
# Effective grant
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sddl, blocked", [
    (MSLLDP_DEFAULT, True),  # KB 3209092: the MSLLDP case
    (MSLLDP_KB_FIX, False),
    (MSLLDP_JUSTWORKS_FIX, False),
    (MUP, False),
])
def test_writer_query_config_on_the_reference_descriptors(sddl, blocked):
    assert grants(sddl, WRITER_TOKEN, SERVICE_QUERY_CONFIG, "service") is not blocked


@pytest.mark.parametrize("sddl, sids, rights, object_type, expected", [
    ("O:BA", {"S-1-5-18"}, FILE_ALL_ACCESS, "file", True),  # no D: = NULL DACL: everyone
    ("D:NO_ACCESS_CONTROL", {"S-1-5-18"}, FILE_ALL_ACCESS, "file", True),
    ("D:", {"S-1-5-18"}, 0x1, "file", False),  # empty DACL: nobody
    ("D:P", {"S-1-5-18"}, 0x1, "file", False),
    ("D:(A;;0x1200a9;;;SY)", {"S-1-5-18"}, FILE_READ_AND_EXECUTE, "file", True),
    ("D:(A;;FR;;;SY)", {"S-1-5-18"}, FILE_READ_AND_EXECUTE, "file", False),  # FR lacks FILE_EXECUTE (0x20)
    ("D:(A;;FR;;;SY)(A;;FX;;;SY)", {"S-1-5-18"}, FILE_READ_AND_EXECUTE, "file", True),  # bits add up across ACEs
    ("D:(A;;GA;;;SY)", {"S-1-5-18"}, FILE_ALL_ACCESS, "file", True),  # file generic mapping
    ("D:(A;;GR;;;SU)", {"S-1-5-6"}, SERVICE_QUERY_CONFIG, "service", True),  # service generic mapping
    ("D:(A;;GW;;;SU)", {"S-1-5-6"}, SERVICE_QUERY_CONFIG, "service", False),
    ("D:(D;;FA;;;SY)(A;;FA;;;SY)", {"S-1-5-18"}, 0x1, "file", False),  # deny first
    ("D:(A;;FA;;;SY)(D;;FA;;;SY)", {"S-1-5-18"}, 0x1, "file", True),  # already granted: the deny comes too late
    ("D:(A;;0x1;;;SY)(D;;FA;;;SY)(A;;FA;;;SY)", {"S-1-5-18"}, 0x3, "file", False),  # deny before the rest is granted
    ("D:(D;;WD;;;SY)(A;;FA;;;SY)", {"S-1-5-18"}, FILE_READ_AND_EXECUTE, "file", True),  # deny of bits not asked for
    ("D:(D;;FA;;;BU)(A;;FA;;;SY)", {"S-1-5-18"}, FILE_ALL_ACCESS, "file", True),  # deny for a SID outside the token
    ("D:(D;OICIIO;FA;;;SY)(A;;FA;;;SY)", {"S-1-5-18"}, FILE_ALL_ACCESS, "file", True),  # inherit-only: not for the object
    ("D:(A;OICIIO;FA;;;SY)", {"S-1-5-18"}, 0x1, "file", False),
    ("D:(A;;FA;;;S-1-5-18)", {"SY"}, FILE_ALL_ACCESS, "file", True),  # aliases and SIDs are the same principal
    ("D:(XA;;FA;;;SY;(@User.x==1))", {"S-1-5-18"}, 0x1, "file", False),  # conditional allow: not counted
    ("D:(XD;;FA;;;SY;(@User.x==1))(A;;FA;;;SY)", {"S-1-5-18"}, 0x1, "file", False),  # conditional deny: counted
    ("D:(A;;FA;;;DA)", {"S-1-5-21-1-2-3-512"}, 0x1, "file", False),  # domain alias without the domain SID
])
def test_grants(sddl, sids, rights, object_type, expected):
    assert grants(sddl, sids, rights, object_type) is expected


def test_grants_resolves_domain_aliases_with_the_domain_sid():
    assert grants("D:(A;;FA;;;DA)", {"S-1-5-21-1-2-3-512"}, 0x1, "file", domain_sid="S-1-5-21-1-2-3")


def test_grants_accepts_a_parsed_descriptor_and_refuses_non_sids():
    sd = parse_sddl(MUP)
    assert isinstance(sd, SecurityDescriptor) and grants(sd, {"S-1-5-4"}, SERVICE_QUERY_CONFIG, "service")
    with pytest.raises(ValueError, match="NETWORK SERVICE"):
        grants(sd, {"NETWORK SERVICE"}, 0x1, "service")


def test_deny_aces_for():
    text = "D:(D;;FA;;;SY)(D;OICIIO;FA;;;SY)(D;;FA;;;BU)(A;;FA;;;SY)"
    assert [a.format() for a in deny_aces_for(text, {"S-1-5-18"})] == ["(D;;FA;;;SY)"]
    assert len(deny_aces_for(text, {"S-1-5-18"}, include_inherit_only=True)) == 2
    assert [a.trustee for a in deny_aces_for(MSLLDP_DEFAULT, {"S-1-5-32-546"})] == ["BG"]
    assert deny_aces_for("O:BA", {"S-1-5-18"}) == []
