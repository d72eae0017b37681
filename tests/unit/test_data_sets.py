"""The real data sets in tests/data: self-contained (nothing read from outside the repository) and cited."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")
DATA_SETS = {"imagepaths-default-windows.jsonl": 257, "imagepaths-more-real.jsonl": 53}
# Where a test or a tool could read a data set from: every Python file of tests/ and tools/.
READERS = [os.path.join(d, f) for top in ("tests", "tools") for d, _unused, fs in os.walk(os.path.join(ROOT, top))
           for f in fs if f.endswith(".py")]


def _rows(name: str) -> list[dict]:
    with open(os.path.join(DATA, name), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.mark.parametrize("name, count", sorted(DATA_SETS.items()))
def test_every_row_cites_a_public_source_listed_in_the_readme(name, count):
    with open(os.path.join(DATA, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    rows = _rows(name)
    assert len(rows) == count
    assert name in readme
    for row in rows:
        assert row["source"].startswith("https://"), row["id"]
        assert row["source"] in readme, f"{name} {row['id']}: source {row['source']} is not cited in tests/data/README.md"


def test_no_test_or_tool_reads_data_from_outside_the_repository():
    outside = re.compile(r"""["']\.\.["']\s*,\s*["']shared["']|\.\./shared|dirname\((ROOT|REPO)\)\s*,\s*["']shared["']""")
    offenders = []
    for path in READERS:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if outside.search(line):
                    offenders.append(f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}")
    assert not offenders, "read the data sets from tests/data instead:\n" + "\n".join(offenders)


def test_the_tools_default_to_the_data_sets_in_the_repository():
    for tool, attribute in (("build_demo_fleet.py", "DEFAULT_DATA"), ("bench_imagepath.py", "DEFAULT_DATA")):
        spec = importlib.util.spec_from_file_location(tool[:-3] + "_under_test", os.path.join(ROOT, "tools", tool))
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        value = getattr(module, attribute)
        for path in map(os.path.realpath, value if isinstance(value, (list, tuple)) else [value]):
            assert path.startswith(os.path.realpath(DATA)), f"tools/{tool}: {attribute} = {path}"
            assert os.path.exists(path)
