"""The state document loader: good, corrupt, truncated, foreign and wrong-version files."""

import json
import os
import re

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils._state import (
    SCHEMA_VERSION, StateError, find_service, is_driver, is_win32, load_state_file, local_drive_letters, parse_state,
    validate_state)

from statedoc import make_service, make_state

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def test_good_file_loads(tmp_path):
    path = write(tmp_path, "host.json", json.dumps(make_state()))
    doc = load_state_file(path)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert find_service(doc, "cryptsvc")["name"] == "CryptSvc"


def test_embedded_nul_survives_a_round_trip(tmp_path):
    value = "\\??\\C:\\Program Files\\Process Hacker 2\\kprocesshacker.sys\x001251;LC_MONETARY=Russian_Russia.1251"
    doc = make_state(services=[make_service("KProcessHacker3", value, type_=1)])
    path = write(tmp_path, "kph.json", json.dumps(doc))
    assert load_state_file(path)["services"][0]["image_path"]["data"] == value


@pytest.mark.parametrize("content, expected", [
    ("", "the file is empty"),
    ("   \n", "the file is empty"),
    ('{"schema_version": 1, "host": ', "not valid JSON (line 1"),
    ("{not json", "not valid JSON"),
    (b"\xff\xfe{\x00", "not UTF-8 text"),
    ("[1, 2, 3]", "expected a JSON object"),
    ('{"name": "left-pad", "version": "1.3.0"}', "'schema_version': is missing: this is not a backupready"),
    ('{"schema_version": "1"}', "'schema_version': expected an integer"),
    ('{"schema_version": 2}', "version 2 is newer than the version this collection reads (1)"),
    ('{"schema_version": 0}', "version 0 is older"),
    ("null", "expected a JSON object"),
    ("[" * 100000, "JSON nested too deeply"),
])
def test_corrupt_truncated_foreign_or_wrong_version(tmp_path, content, expected):
    path = write(tmp_path, "bad.json", content)
    with pytest.raises(StateError) as info:
        load_state_file(path)
    assert expected in str(info.value)
    assert str(info.value).startswith(path + ": ")


def test_truncated_real_document_names_the_file(tmp_path):
    text = json.dumps(make_state())
    path = write(tmp_path, "truncated.json", text[: len(text) // 2])
    with pytest.raises(StateError, match="truncated.json: document: not valid JSON"):
        load_state_file(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(StateError, match="cannot be read"):
        load_state_file(str(tmp_path / "absent.json"))
    with pytest.raises(StateError, match="is a directory"):
        load_state_file(str(tmp_path))


def _mutate(doc, path, value):
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value


@pytest.mark.parametrize("path, value, field, problem", [
    (("host",), KeyError, "host", "is missing"),
    (("host", "product_type"), "laptop", "host.product_type", "expected one of workstation"),
    (("services", 1, "type"), "driver", "services[1].type", "expected int, got a string"),
    (("services", 1, "type"), True, "services[1].type", "expected int, got a boolean"),
    (("services", 0, "start_mode"), "automatic", "services[0].start_mode", "expected one of boot"),
    (("services", 1, "image_path", "kind"), "REG_FOO", "services[1].image_path.kind", "expected one of REG_SZ"),
    (("services", 1, "image_path", "data"), ["a"], "services[1].image_path.data", "REG_EXPAND_SZ data must be a string"),
    (("system_writer", "excluded_binary_paths"), {"kind": "REG_MULTI_SZ", "data": "C:\\a.exe"},
     "system_writer.excluded_binary_paths.data", "must be a list of strings"),
    (("system_writer", "excluded_binary_paths"), {"kind": "REG_DWORD", "data": -1},
     "system_writer.excluded_binary_paths.data", "must be an unsigned integer"),
    (("system_writer", "excluded_binary_paths"), {"kind": "REG_BINARY", "data": "xyz"},
     "system_writer.excluded_binary_paths.data", "must be a hex string"),
    (("system_writer", "excluded_binary_paths"), {"kind": "missing"},
     "system_writer.excluded_binary_paths.data", "is missing"),
    (("filemaps", "files", "count"), -1, "filemaps.files.count", "must be >= 0"),
    (("vss_access_control", "values"), {"NT Authority\\NetworkService": 1},
     "vss_access_control.values['NT Authority\\NetworkService']", "expected a registry value object"),
    (("paths",), {"C:\\x.sys": "yes"}, "paths['C:\\x.sys']", "expected bool"),  # single backslashes, as Windows shows them
    (("events",), [{"log": "Application"}], "events[0].provider", "is missing"),
    (("services", 0, "name"), None, "services[0].name", "must not be null"),
])
def test_field_errors_name_the_field(path, value, field, problem):
    doc = make_state()
    _mutate(doc, path, value)
    with pytest.raises(StateError) as info:
        validate_state(doc, "snap.json")
    assert info.value.field == field
    assert problem in info.value.problem
    assert str(info.value).startswith(f"snap.json: field '{field}': ")


def test_duplicate_service_names_are_refused():
    doc = make_state()
    doc["services"].append(make_service("CRYPTSVC", "x.exe"))
    with pytest.raises(StateError, match=r"services\[2\].name.*duplicate service name 'CRYPTSVC' \(also services\[0\]\)"):
        validate_state(doc, "dup.json")


def test_parse_state_accepts_bytes_with_bom():
    raw = b"\xef\xbb\xbf" + json.dumps(make_state()).encode()
    assert parse_state(raw, "bom.json")["host"]["name"] == "testhost"


def test_accessors():
    doc = make_state(volumes=[{"drive_letter": "c:", "mount_point": "C:\\", "file_system": "NTFS"},
                              {"drive_letter": None, "mount_point": "C:\\Mount\\Data\\", "file_system": "NTFS"}])
    assert local_drive_letters(doc) == {"C:"}
    crypt = find_service(doc, "CRYPTSVC")
    driver = find_service(doc, "1394OHCI")
    assert is_win32(crypt) and not is_driver(crypt)
    assert is_driver(driver) and not is_win32(driver)
    assert find_service(doc, "absent") is None


# Drill 1a of the reliability drills: valid JSON that no later step could carry. Each is refused at load, naming
# the file and the field, instead of a Python exception later (UnicodeEncodeError after the backup was written,
# RecursionError in copy.deepcopy, "Exceeds the limit (4300 digits) for integer string conversion").
HV_DOUBLED = os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json")


def hv_doubled_text():
    with open(HV_DOUBLED, encoding="utf-8") as handle:
        return handle.read()


def vdrvroot_index(text):
    return next(i for i, s in enumerate(json.loads(text)["services"]) if s["name"] == "vdrvroot")


def with_extra(text, raw_value):
    return text.replace('"schema_version": 1,', f'"schema_version": 1,\n "x_extra": {raw_value},', 1)


@pytest.mark.parametrize("case, edit, field, problem", [
    ("lone_surrogate", lambda t: t.replace('"display_name": "vdrvroot"', '"display_name": "vdrvroot\\ud800"', 1),
     "services[{vdrvroot}].display_name", 'holds a lone UTF-16 surrogate ("\\ud800" at character 8)'),
    ("lone_surrogate_low", lambda t: with_extra(t, '{"a": ["x\\udfff"]}'), "x_extra.a[0]",
     'holds a lone UTF-16 surrogate ("\\udfff" at character 1)'),
    ("lone_surrogate_key", lambda t: with_extra(t, '{"k\\ud800": 1}'), "x_extra", "a key holds a lone UTF-16"),
    ("deep_600_extra", lambda t: with_extra(t, "[" * 600 + "]" * 600), "x_extra[0][0][0][0][0]...",
     "nested more than 64 levels deep"),
    ("bigint_extra", lambda t: with_extra(t, "9" * 5000), "x_extra", "an integer of 5000 digits"),
    ("bigint_os_build", lambda t: re.sub(r'"os_build": \d+', '"os_build": -' + "1" * 5000, t, count=1),
     "host.os_build", "an integer of 5000 digits"),
    # drill 1a huge_service_name_1mb: refused only at apply time, with the 1 MiB name echoed in full (10.5 MB of console)
    ("huge_service_name_1mb", lambda t: t.replace('"name": "vdrvroot"', '"name": "' + "n" * 1048576 + '"', 1),
     "services[{vdrvroot}].name", "is 1,048,576 characters long; a service name has at most 256 (CreateService)"),
])
def test_json_no_later_step_could_carry_is_refused_at_load_naming_the_field(tmp_path, case, edit, field, problem):
    text = edit(hv_doubled_text())
    assert text != hv_doubled_text()
    path = write(tmp_path, f"{case}.json", text)
    with pytest.raises(StateError) as info:
        load_state_file(path)
    field = field.format(vdrvroot=vdrvroot_index(hv_doubled_text()))
    assert str(info.value).startswith(f"{path}: field '{field}': {problem}")


def test_nesting_up_to_the_limit_and_long_integers_within_it_are_kept(tmp_path):
    text = with_extra(hv_doubled_text(), "[" * 63 + '18446744073709551615, "\\ud83d\\ude00"' + "]" * 63)
    value = load_state_file(write(tmp_path, "ok.json", text))["x_extra"]
    for _unused in range(62):
        (value,) = value
    assert value == [2 ** 64 - 1, "\U0001f600"]  # a surrogate pair is one character
    with pytest.raises(StateError, match="nested more than 64"):
        validate_state(dict(json.loads(hv_doubled_text()), x_extra=_nested(65)), "live")


def _nested(depth):
    value = []
    for _unused in range(depth - 1):
        value = [value]
    return value


def test_a_lone_surrogate_is_found_in_text_and_in_a_document_from_a_live_host():
    doc = json.loads(hv_doubled_text())
    doc["host"]["os_caption"] = "Windows\ud800"
    with pytest.raises(StateError, match=r"^live: field 'host.os_caption': holds a lone UTF-16 surrogate"):
        validate_state(doc, "live")
    with pytest.raises(StateError, match=r"^text: field 'host.os_caption': holds a lone UTF-16 surrogate"):
        parse_state(json.dumps(doc, ensure_ascii=False), "text")


def test_a_self_test_probe_may_carry_the_vssadmin_bytes_and_code_page():
    doc = make_state()
    doc["vssadmin"].update({"encoding": 437, "stdout_base64": "dnNzYWRtaW4="})
    validated = validate_state(doc, "probe")
    assert validated["vssadmin"]["stdout_base64"] == "dnNzYWRtaW4=" and validated["vssadmin"]["encoding"] == 437
    doc["vssadmin"]["encoding"] = "437"
    with pytest.raises(StateError, match="encoding"):
        validate_state(doc, "probe")
