"""Waivers: validation errors name the entry and the field; matching is case-insensitive; expiry reopens."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES
from ansible_collections.backupready.windows.plugins.plugin_utils._waivers import (
    EXPIRED, OPEN, WAIVED, Waiver, WaiverError, apply_waivers, parse_waivers_text, read_waivers_file, validate_waivers)

TODAY = datetime.date(2026, 11, 1)

CLUSTER = {"host": "sql-node*", "code": "missing_volume", "subject": "service:clus*",
           "reason": "passive cluster node: the volume belongs to the active node (KB 980794)"}


def finding(code="missing_volume", subject="service:ClusDisk", severity="error"):
    return {"code": code, "subject": subject, "severity": severity, "message": "m", "evidence": {}, "fix": "",
            "fixable": False, "source": CODES[code].source}


# ---- validation --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, expected", [
    ({**CLUSTER, "code": "no_such_code"}, "waiver #1: field 'code': 'no_such_code' is not a known finding code"),
    ({**CLUSTER, "code": "nothing_*"}, "waiver #1: field 'code': 'nothing_*' matches no known finding code"),
    ({**CLUSTER, "reason": "   "}, "waiver #1: field 'reason' is empty"),
    ({**CLUSTER, "expires": "2026-13-01"}, "waiver #1: field 'expires': '2026-13-01' is not a date"),
    ({**CLUSTER, "expires": "01/12/2026"}, "waiver #1: field 'expires': '01/12/2026' is not a date"),
    ({**CLUSTER, "expires": "20261201"}, "waiver #1: field 'expires': '20261201' is not a date"),
    ({**CLUSTER, "expires": True}, "waiver #1: field 'expires': true is not a date"),
    ({**CLUSTER, "expiry": "2026-12-01"}, "waiver #1: unknown key(s) expiry"),
    ({k: v for k, v in CLUSTER.items() if k != "host"}, "waiver #1: field 'host' is required"),
    ({k: v for k, v in CLUSTER.items() if k != "reason"}, "waiver #1: field 'reason' is required"),
    ({**CLUSTER, "host": ""}, "waiver #1: field 'host' is empty"),
    ({**CLUSTER, "subject": 7}, "waiver #1: field 'subject': expected a string, got int"),
    ("sql-node2", "waiver #1: expected a mapping"),
])
def test_a_bad_entry_is_named_with_its_index_and_field(entry, expected):
    with pytest.raises(WaiverError) as error:
        validate_waivers([CLUSTER, entry], "waivers.yml")
    assert str(error.value).startswith("waivers.yml: ")
    assert expected in str(error.value)


def test_a_file_that_is_not_a_list_is_refused():
    with pytest.raises(WaiverError, match="waivers.yml: expected a list of waivers, got dict"):
        validate_waivers({"waivers": [CLUSTER]}, "waivers.yml")


def test_an_empty_file_has_no_waivers():
    assert validate_waivers(None, "w") == []
    assert parse_waivers_text("", "w") == []


def test_yaml_dates_quoted_or_not_and_json_are_read_alike():
    yaml_text = ("- {host: 'sql-node*', code: missing_volume, reason: passive node, expires: 2026-12-31}\n"
                 "- {host: 'sql-node*', code: missing_volume, reason: passive node, expires: '2026-12-31'}\n")
    json_text = '[{"host": "sql-node*", "code": "missing_volume", "reason": "passive node", "expires": "2026-12-31"}]'
    dates = {w.expires for w in parse_waivers_text(yaml_text, "a.yml") + parse_waivers_text(json_text, "a.json")}
    assert dates == {datetime.date(2026, 12, 31)}


def test_broken_yaml_is_named():
    with pytest.raises(WaiverError, match="w.yml: not valid YAML/JSON"):
        parse_waivers_text("- host: [unclosed\n", "w.yml")


SECRET = "S3cret-LEAK-991"


# Drill 6D of the reliability drills: a waivers file option pointed at the wrong file (one holding passwords) copied
# the line PyYAML quotes into the console and every report. The message gives the line, the column and the kind.
@pytest.mark.parametrize("text, where", [
    (f'smtp_user: ops\nsmtp_password: "{SECRET}": oops\n', "line 2, column 33: mapping values are not allowed here"),
    (f"- host: [{SECRET}\n", "line 2, column 1: while parsing a flow sequence; expected ',' or ']', but got "
                             "'<stream end>'"),
    (f"password: !{SECRET} x\n", "line 1, column 11: could not determine a constructor for the tag '...'"),
    (f"password: '{SECRET}\n", "line 2, column 1: while scanning a quoted scalar; found unexpected end of stream"),
    (f"- {SECRET}\x07\n", f"character {len(SECRET) + 2}: U+0007 is not allowed in YAML"),
    (f"\t{SECRET}: x\n", "line 1, column 1: while scanning for the next token; found character '\\t' that "
                         "cannot start any token"),
])
def test_a_yaml_error_gives_line_column_and_kind_never_the_line(text, where):
    with pytest.raises(WaiverError) as caught:
        parse_waivers_text(text, "notwaivers.yml")
    assert str(caught.value) == f"notwaivers.yml: not valid YAML/JSON ({where})"
    assert SECRET not in str(caught.value)


def test_a_waivers_file_that_is_not_utf8_names_the_option_and_the_file(tmp_path):
    latin1 = tmp_path / "latin1.yml"
    latin1.write_bytes("- {host: '*', code: missing_volume, reason: 'n\u0153ud passif, r\u00e9serv\u00e9'}\n"
                       .encode("cp1252"))
    with pytest.raises(WaiverError) as caught:
        read_waivers_file(str(latin1), "waivers_file")
    assert str(caught.value) == (f"waivers_file: {latin1} is not UTF-8 text (byte 46 is not UTF-8): "
                                 "save the waivers file as UTF-8")
    with pytest.raises(WaiverError, match=f"^waivers_file: cannot read {tmp_path}/absent.yml: No such file"):
        read_waivers_file(str(tmp_path / "absent.yml"), "waivers_file")


def test_a_utf8_waivers_file_with_or_without_bom_is_read(tmp_path):
    text = "- {host: '*', code: missing_volume, reason: 'n\u0153ud passif'}\n"
    for name, raw in (("plain.yml", text.encode("utf-8")), ("bom.yml", b"\xef\xbb\xbf" + text.encode("utf-8"))):
        (tmp_path / name).write_bytes(raw)
        (waiver,) = read_waivers_file(str(tmp_path / name), "waivers_file")
        assert waiver.reason == "n\u0153ud passif"


def test_defaults_and_code_patterns():
    (waiver,) = validate_waivers([{"host": "*", "code": "system_writer_*", "reason": "lab"}], "w")
    assert waiver == Waiver(host="*", code="system_writer_*", subject="*", reason="lab", expires=None, index=0)


# ---- matching ----------------------------------------------------------------------------------------------

W = validate_waivers([CLUSTER, {"host": "fs01", "code": "unquoted_spaces", "subject": "service:AppSvc",
                                "reason": "vendor fix due", "expires": "2026-10-31"}], "w")


@pytest.mark.parametrize("host, found, status, reason, expired_on", [
    # KB 980794: the passive node's missing volume, waived for the cluster services
    ("sql-node2", finding(), WAIVED, CLUSTER["reason"], None),
    ("SQL-NODE2", finding(subject="SERVICE:CLUSDISK"), WAIVED, CLUSTER["reason"], None),
    ("sql-node2", finding(subject="service:OtherSvc"), OPEN, None, None),
    ("web01", finding(), OPEN, None, None),
    ("sql-node2", finding(code="missing_file"), OPEN, None, None),
    # the waiver for fs01 ended on 2026-10-31: the finding is open again, and we say since when
    ("fs01", finding(code="unquoted_spaces", subject="service:AppSvc", severity="warning"), EXPIRED, None,
     datetime.date(2026, 10, 31)),
])
def test_matching_table(host, found, status, reason, expired_on):
    ((got, waiver, got_status),) = apply_waivers(host, [found], W, TODAY)
    assert got is found
    assert got_status == status
    assert (waiver.reason if status == WAIVED else None) == reason
    assert (waiver.expires if status == EXPIRED else None) == expired_on


@pytest.mark.parametrize("today, status", [
    (datetime.date(2026, 10, 30), WAIVED),
    (datetime.date(2026, 10, 31), WAIVED),  # the waiver counts through its last day
    (datetime.date(2026, 11, 1), EXPIRED),
])
def test_expiry_boundary(today, status):
    ((_unused1, _unused2, got),) = apply_waivers("fs01", [finding(code="unquoted_spaces", subject="service:AppSvc")], W, today)
    assert got == status


def test_an_active_waiver_wins_over_an_expired_one_whatever_the_order():
    expired = {"host": "h", "code": "cryptsvc_state", "reason": "old", "expires": "2020-01-01"}
    active = {"host": "h", "code": "cryptsvc_state", "reason": "new"}
    for order in ([expired, active], [active, expired]):
        ((_unused, waiver, status),) = apply_waivers("h", [finding("cryptsvc_state")], validate_waivers(order, "w"), TODAY)
        assert (status, waiver.reason) == (WAIVED, "new")


def test_nothing_is_dropped():
    findings = [finding(), finding(subject="service:other"), finding(code="cryptsvc_state", subject="service:CryptSvc")]
    decided = apply_waivers("sql-node2", findings, W, TODAY)
    assert [row[0] for row in decided] == findings
    assert [row[2] for row in decided] == [WAIVED, OPEN, OPEN]


@given(host=st.text(max_size=20), subject=st.text(max_size=30), code=st.sampled_from(sorted(CODES)))
def test_a_catch_all_waiver_waives_everything_and_no_waiver_waives_nothing(host, subject, code):
    everything = validate_waivers([{"host": "*", "code": "*", "reason": "accepted"}], "w")
    ((_unused1, _unused2, status),) = apply_waivers(host, [finding(code, subject)], everything, TODAY)
    assert status == WAIVED
    ((_unused, waiver, status),) = apply_waivers(host, [finding(code, subject)], [], TODAY)
    assert (waiver, status) == (None, OPEN)
