"""The state document loader: good, corrupt, truncated, foreign and wrong-version files."""

import json

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils._state import (
    SCHEMA_VERSION, StateError, find_service, is_driver, is_win32, load_state_file, local_drive_letters, parse_state,
    validate_state)

from statedoc import make_service, make_state


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
     'vss_access_control.values["NT Authority\\\\NetworkService"]', "expected a registry value object"),
    (("paths",), {"C:\\x.sys": "yes"}, 'paths["C:\\\\x.sys"]', "expected bool"),
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
