# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static gates for the PowerShell modules and C# utils (nothing here can run PowerShell).

1. Every ``*.ps1`` / ``*.psm1`` under ``plugins/`` parses with tree-sitter-powershell, no ERROR / MISSING node.
2. No PowerShell 7-only construct (``??``, ``??=``, ``?.``, ``?[``, ``c ? a : b``, ``&&`` / ``||``) outside
   strings and comments. The tree-sitter grammar parses ``&&`` / ``||`` as ``pipeline_chain_tail`` and the ``?``
   forms as ERROR nodes, which :func:`ps7_constructs` names.
3. Module rules: ``#!powershell`` first, ``Ansible.Basic`` required, ``AnsibleModule::Create``,
   ``supports_check_mode = $true``, no ``Write-Host``, no common alias as a command.
4. The option names of each module's spec equal those of its ``.yml`` documentation sidecar, and each option's
   type, elements, default, choices, required and no_log agree (what validate-modules compares when it can load the
   spec with pwsh; here the spec's literal hashtable is read from the syntax tree).
5. Every ``.cs`` under ``plugins/`` compiles with ``mcs -langversion:5`` (Windows PowerShell 5.1 compiles C# utils
   with the .NET Framework csc, C# 5: no ``?.``, ``$""``, ``nameof``). The utils do not use Ansible.Basic or
   Ansible.Privilege, so no stub is needed. Without mcs the gate skips, or fails when ``CI`` is set.
6. ``#AnsibleRequires -CSharpUtil`` lines resolve with ansible-core's own ``PSModuleDepFinder``, each util's namespace
   is the one its path implies, and every ``[BackupReady.X]`` type used is declared by a ``//TypeAccelerator``.
7. The registry byte decoding / encoding and the command-line quoting of ``BackupReady.cs`` run under mono against
   independent Python references (hypothesis).
8. What mcs cannot see: no getter-only auto-property ``{ get; }`` in ``.cs`` (C# 6; ``mcs -langversion:5`` accepts
   it, the .NET Framework csc of Windows PowerShell 5.1 does not), and no API that exists on one runtime only, in
   ``.ps1`` or ``.cs`` code (comments and strings aside): ``[System.IO.File|Directory]::Get/SetAccessControl`` and
   ``.GetAccessControl(`` / ``.SetAccessControl(`` are .NET Framework only (PowerShell 7 does not bind the
   ``FileSystemAclExtensions`` extension methods that replace them), ``FileSystemAclExtensions`` is .NET Core only.
Each gate has a negative test on snippets written to tmp files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import tree_sitter as ts
import tree_sitter_powershell as tsp

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
MODULES = PLUGINS / "modules"
PS_FILES = sorted(p for p in PLUGINS.rglob("*") if p.suffix.lower() in (".ps1", ".psm1"))
MODULE_FILES = sorted(MODULES.glob("*.ps1"))
CS_FILES = sorted(PLUGINS.rglob("*.cs"))
COLLECTION_PREFIX = "ansible_collections.backupready.windows.plugins"

_PARSER = ts.Parser(ts.Language(tsp.language()))

ALIASES = ("%", "?", "gci", "ls", "cat", "sc", "select", "where", "foreach", "iex", "gc", "echo")


# ---------------------------------------------------------------------------------------------------
# Syntax tree helpers
# ---------------------------------------------------------------------------------------------------

def parse(source: bytes) -> ts.Tree:
    return _PARSER.parse(source)


def walk(node: ts.Node):
    yield node
    for child in node.children:
        yield from walk(child)


def first_syntax_error(source: bytes) -> tuple[int, str] | None:
    """(1-based line, text) of the first ERROR or MISSING node, or None."""
    for node in walk(parse(source).root_node):
        if node.type == "ERROR" or node.is_missing:
            text = source[node.start_byte:node.end_byte].decode("utf-8", "replace")[:60]
            return node.start_point[0] + 1, f"{'MISSING ' + node.type if node.is_missing else 'ERROR'} {text!r}"
    return None


def ps7_constructs(source: bytes) -> list[tuple[str, int]]:
    """PowerShell 7-only constructs outside strings and comments, as (construct, 1-based line)."""
    found: list[tuple[str, int]] = []
    for node in walk(parse(source).root_node):
        line = node.start_point[0] + 1
        if node.type == "pipeline_chain_tail":
            found.append(("pipeline chain " + source[node.start_byte:node.end_byte].decode().strip(), line))
        elif node.type == "ERROR" and not node.is_missing and node.child_count == 0:
            # A leaf ERROR token: the grammar (5.1 syntax) has no '?' operator; name what follows it.
            text = source[node.start_byte:node.end_byte].decode("utf-8", "replace").strip()
            if "?" not in text:
                continue
            after = source[node.end_byte:node.end_byte + 1].decode("utf-8", "replace")
            if text.endswith("??") and after == "=":
                found.append(("null-coalescing assignment ??=", line))
            elif "??" in text:
                found.append(("null-coalescing ??", line))
            elif after == ".":
                found.append(("null-conditional ?.", line))
            elif after == "[":
                found.append(("null-conditional ?[", line))
            else:
                found.append(("ternary ? :", line))
    return found


def command_names(source: bytes) -> list[tuple[str, int]]:
    return [(source[n.start_byte:n.end_byte].decode(), n.start_point[0] + 1)
            for n in walk(parse(source).root_node) if n.type == "command_name"]


def code_only(source: bytes) -> str:
    """The source with comments and string literals blanked out (line numbers kept)."""
    data = bytearray(source)
    for node in walk(parse(source).root_node):
        if node.type in ("comment", "string_literal"):
            for i in range(node.start_byte, node.end_byte):
                if data[i] not in (0x0A, 0x0D):
                    data[i] = 0x20
    return data.decode("utf-8", "replace")


def spec_option_names(source: bytes) -> set[str]:
    """Keys of ``options = @{ ... }`` inside the ``$spec = @{ ... }`` assignment."""
    tree = parse(source)
    for node in walk(tree.root_node):
        if node.type != "assignment_expression":
            continue
        target = source[node.children[0].start_byte:node.children[0].end_byte].decode().strip()
        if target.lower() != "$spec":
            continue
        for entry in walk(node):
            if entry.type != "hash_entry":
                continue
            key = entry.child_by_field_name("key") or entry.children[0]
            if source[key.start_byte:key.end_byte].decode().strip().lower() != "options":
                continue
            body = next((n for n in walk(entry) if n.type == "hash_literal_body"), None)
            if body is None:
                return set()
            return {source[e.children[0].start_byte:e.children[0].end_byte].decode().strip()
                    for e in body.children if e.type == "hash_entry"}
    raise AssertionError("no '$spec = @{ options = @{ ... } }' found")


class NotALiteral(ValueError):
    """A spec value this gate cannot read without running PowerShell."""


_LITERAL_TOKEN = re.compile(r"\s*(?:(?P<single>'(?:[^']|'')*')|(?P<double>\"[^\"$`]*\")|(?P<number>-?\d+)\b"
                            r"|(?P<variable>\$(?:true|false|null))\b|(?P<open>@\(|@\{)|(?P<close>[)}])|(?P<comma>,)"
                            r"|(?P<sep>[;\n])|(?P<key>[A-Za-z_]\w*)\s*=(?!=))", re.IGNORECASE)


def powershell_literal(text: str):
    """The value of a PowerShell literal as Python: quoted strings, integers, ``$true``/``$false``/``$null``,
    ``@( ... )`` and comma lists, ``@{ key = value; ... }``. Anything else raises :class:`NotALiteral`."""
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _LITERAL_TOKEN.match(text, position)
        if not match or match.end() == position:
            raise NotALiteral(f"not a literal at {text[position:position + 30]!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
        while position < len(text) and text[position] in " \t\r":
            position += 1

    def value(index: int):
        kind, token = tokens[index]
        if kind == "single":
            item, index = token[1:-1].replace("''", "'"), index + 1
        elif kind == "double":
            item, index = token[1:-1], index + 1
        elif kind == "number":
            item, index = int(token), index + 1
        elif kind == "variable":
            item, index = {"$true": True, "$false": False, "$null": None}[token.lower()], index + 1
        elif token == "@(":
            items, index = [], index + 1
            while tokens[index][0] in ("sep", "comma"):
                index += 1
            while tokens[index][0] != "close":
                element, index = value(index)
                items.extend(element if isinstance(element, list) else [element])
                while tokens[index][0] in ("sep", "comma"):
                    index += 1
            item, index = items, index + 1
        elif token == "@{":
            item, index = {}, index + 1
            while tokens[index][0] != "close":
                if tokens[index][0] == "sep":
                    index += 1
                    continue
                if tokens[index][0] != "key":
                    raise NotALiteral(f"expected a key, found {tokens[index][1]!r}")
                key, (item[tokens[index][1]], index) = tokens[index][1], value(index + 1)
                del key
            index += 1
        else:
            raise NotALiteral(f"unexpected {token!r}")
        if index < len(tokens) and tokens[index][0] == "comma":  # a comma list: 'a', 'b'
            rest, index = value(index + 1)
            item = [item] + (rest if isinstance(rest, list) else [rest])
        return item, index

    try:
        result, end = value(0)
    except IndexError:
        raise NotALiteral(f"unterminated literal {text[:40]!r}") from None
    if end != len(tokens):
        raise NotALiteral(f"more after the literal in {text[:40]!r}")
    return result


def spec_options(source: bytes) -> dict[str, dict]:
    """The ``options`` of ``$spec = @{ ... }`` as Python values (each option's literal hashtable)."""
    tree = parse(source)
    for node in walk(tree.root_node):
        if node.type == "hash_entry" and source[node.children[0].start_byte:node.children[0].end_byte].decode().strip() == "options":
            return powershell_literal(source[node.children[-1].start_byte:node.children[-1].end_byte].decode())
    raise AssertionError("no '$spec = @{ options = @{ ... } }' found")


SPEC_KEYS = {"type": "str", "elements": None, "default": None, "choices": None, "required": False, "no_log": False}


def spec_documentation_differences(spec: dict, documented: dict) -> list[str]:
    """What validate-modules would compare with pwsh: each option's type, elements, default, choices, required
    and no_log in the spec against the documentation (Ansible's defaults where either leaves one out)."""
    problems = [f"{name}: in the spec, not documented" for name in sorted(set(spec) - set(documented))]
    problems += [f"{name}: documented, not in the spec" for name in sorted(set(documented) - set(spec))]
    for name in sorted(set(spec) & set(documented)):
        for key, default in SPEC_KEYS.items():
            ours, theirs = spec[name].get(key, default), documented[name].get(key, default)
            if key == "default" and ours in ([], {}) and theirs is None:
                theirs = ours  # an empty list or dict default may be left out of the documentation
            if ours != theirs:
                problems.append(f"{name}: {key} is {ours!r} in the spec, {theirs!r} in the documentation")
    return problems


def module_rule_violations(source: bytes) -> list[str]:
    problems = []
    text = source.decode("utf-8")
    if not text.startswith("#!powershell"):
        problems.append("first line is not #!powershell")
    if not re.search(r"(?im)^#AnsibleRequires\s+-CSharpUtil\s+Ansible\.Basic\s*$", text):
        problems.append("does not require Ansible.Basic")
    code = code_only(source)
    if not re.search(r"\[Ansible\.Basic\.AnsibleModule\]::Create\(\s*\$args\s*,", code):
        problems.append("does not call [Ansible.Basic.AnsibleModule]::Create($args, ...)")
    if not re.search(r"(?i)\bsupports_check_mode\s*=\s*\$true\b", code):
        problems.append("does not declare supports_check_mode = $true")
    for name, line in command_names(source):
        if name.lower() == "write-host":
            problems.append(f"line {line}: Write-Host")
        elif name.lower() in ALIASES:
            problems.append(f"line {line}: alias {name!r} used as a command")
    return problems


def layout_violations(source: bytes) -> list[str]:
    """What ansible-test's pslint settings (settings.psd1) ask of the layout and can be told without PSScriptAnalyzer,
    which needs pwsh: PSAvoidLongLines (160), PSAvoidSemicolonsAsLineTerminators, PSPlaceOpenBrace (on the same line),
    PSUseConsistentIndentation (4 spaces, no tabs), no trailing whitespace. Lines inside here-strings are left alone."""
    problems = []
    inside_here_string = False
    for number, line in enumerate(source.decode("utf-8").splitlines(), start=1):
        if inside_here_string:
            inside_here_string = not re.match(r"^['\"]@", line)
            continue
        if re.search(r"@['\"]\s*$", line):
            inside_here_string = True
        code = line.split("#", 1)[0] if "'" not in line and '"' not in line else line
        if len(line) > 160:
            problems.append(f"line {number}: {len(line)} characters, more than 160 (PSAvoidLongLines)")
        if "\t" in line:
            problems.append(f"line {number}: a tab (PSUseConsistentIndentation)")
        if line.rstrip() != line:
            problems.append(f"line {number}: trailing whitespace")
        if code.rstrip().endswith(";"):
            problems.append(f"line {number}: a semicolon ends the line (PSAvoidSemicolonsAsLineTerminators)")
        if line.strip() == "{":
            problems.append(f"line {number}: an opening brace on a line of its own (PSPlaceOpenBrace)")
        indent = len(line) - len(line.lstrip(" "))
        if line.strip() and indent % 4:
            problems.append(f"line {number}: indented by {indent} spaces, not a multiple of 4 (PSUseConsistentIndentation)")
    return problems


# ---------------------------------------------------------------------------------------------------
# 1-4: the PowerShell files
# ---------------------------------------------------------------------------------------------------

def test_there_are_powershell_files():
    assert {p.name for p in MODULE_FILES} >= {"win_backup_state.ps1", "win_backup_apply.ps1"}


@pytest.mark.parametrize("path", PS_FILES, ids=lambda p: p.name)
def test_parses_without_error(path):
    error = first_syntax_error(path.read_bytes())
    assert error is None, f"{path.relative_to(ROOT)}:{error[0]}: {error[1]}"


@pytest.mark.parametrize("path", PS_FILES, ids=lambda p: p.name)
def test_no_powershell7_constructs(path):
    found = ps7_constructs(path.read_bytes())
    assert not found, "; ".join(f"{path.relative_to(ROOT)}:{line}: {what}" for what, line in found)


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.name)
def test_module_rules(path):
    assert module_rule_violations(path.read_bytes()) == []


@pytest.mark.parametrize("path", PS_FILES, ids=lambda p: p.name)
def test_layout_follows_pslint_settings(path):
    """pslint (PSScriptAnalyzer) needs pwsh and does not run here; its layout settings are checked instead."""
    assert layout_violations(path.read_bytes()) == []


@pytest.mark.parametrize("snippet, problem", [
    ("$a = 1;\n", "semicolon"),
    ("if ($a)\n{\n    $b = 1\n}\n", "opening brace"),
    ("if ($a) {\n   $b = 1\n}\n", "not a multiple of 4"),
    ("$a = '" + "x" * 170 + "'\n", "more than 160"),
    ("$a = 1 \n", "trailing whitespace"),
    ("if ($a) {\n\t$b = 1\n}\n", "a tab"),
])
def test_layout_gate_sees(snippet, problem):
    found = layout_violations(snippet.encode())
    assert any(problem in p for p in found), found


def test_layout_gate_leaves_here_strings_alone():
    assert layout_violations(b"$a = @'\n   odd;\n'@\n$b = 1\n") == []


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.name)
def test_spec_options_match_documentation(path):
    sidecar = path.with_suffix(".yml")
    assert sidecar.exists(), f"{sidecar.name} is missing"
    doc = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
    assert set(doc) >= {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert doc["DOCUMENTATION"]["module"] == path.stem
    documented = set(doc["DOCUMENTATION"].get("options") or {})
    assert spec_option_names(path.read_bytes()) == documented
    examples = yaml.safe_load(doc["EXAMPLES"])
    for task in examples:
        assert f"backupready.windows.{path.stem}" in task, f"example {task.get('name')!r} does not use the FQCN"


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.name)
def test_spec_matches_documentation(path):
    """The part of validate-modules that needs pwsh here: each option of the spec against its documentation."""
    doc = yaml.safe_load(path.with_suffix(".yml").read_text(encoding="utf-8"))["DOCUMENTATION"]
    assert spec_documentation_differences(spec_options(path.read_bytes()), doc.get("options") or {}) == []
    # test_module_rules requires supports_check_mode = $true: the documentation must not say otherwise
    assert doc["attributes"]["check_mode"]["support"] in ("full", "partial")


@pytest.mark.parametrize("text, value", [
    ("@{ type = 'list'; elements = 'str'; default = @() }", {"type": "list", "elements": "str", "default": []}),
    ("@{ default = '%ProgramData%\\x'; required = $true }", {"default": "%ProgramData%\\x", "required": True}),
    ("@{\n  a = @{ default = -5 }\n  b = @{ choices = 'x', \"y\"; default = $null }\n}",
     {"a": {"default": -5}, "b": {"choices": ["x", "y"], "default": None}}),
    ("@('a', 'it''s')", ["a", "it's"]),
    ("@{ d = @{} }", {"d": {}}),
])
def test_powershell_literal_reads(text, value):
    assert powershell_literal(text) == value


@pytest.mark.parametrize("text", ["@{ default = $env:TEMP }", "@{ default = \"$x\" }", "@{ default = (Get-Date) }",
                                  "@{ type = 'str'"])
def test_powershell_literal_refuses_what_needs_powershell(text):
    with pytest.raises(NotALiteral):
        powershell_literal(text)


def test_spec_documentation_differences_are_seen():
    spec = powershell_literal("@{ a = @{ type = 'int'; default = 5 }; b = @{ type = 'list'; elements = 'str'; "
                              "default = @() }; c = @{ choices = 'x', 'y' }; d = @{ required = $true } }")
    documented = {"a": {"type": "int", "default": 50}, "b": {"type": "list", "elements": "str"},
                  "c": {"choices": ["x", "z"]}, "e": {}}
    assert spec_documentation_differences(spec, documented) == [
        "d: in the spec, not documented", "e: documented, not in the spec",
        "a: default is 5 in the spec, 50 in the documentation",
        "c: choices is ['x', 'y'] in the spec, ['x', 'z'] in the documentation"]


# Negative and positive tests of the detectors on snippets in tmp files.

PS7_SNIPPETS = [
    ("$a = $b ?? 'x'", "null-coalescing ??"),
    ("$a ??= 'x'", "null-coalescing assignment ??="),
    ("$n = $x?.Name", "null-conditional ?."),
    ("$n = ${x}?.Name", "null-conditional ?."),
    ("$n = $x?[0]", "null-conditional ?["),
    ("$n = $c ? 'a' : 'b'", "ternary ? :"),
    ("Get-Item -LiteralPath C:\\ && Get-Date", "pipeline chain &&"),
    ("Get-Item -LiteralPath C:\\ || Get-Date", "pipeline chain ||"),
    ("if ($x) {\n    $y = $x ?? 1\n}", "null-coalescing ??"),
]


@pytest.mark.parametrize("snippet, construct", PS7_SNIPPETS)
def test_ps7_detector_finds(tmp_path, snippet, construct):
    path = tmp_path / "snippet.ps1"
    path.write_text(snippet + "\n", encoding="utf-8")
    found = ps7_constructs(path.read_bytes())
    assert construct in [what for what, _unused in found], found
    assert found[0][1] == (2 if "\n" in snippet else 1)


PS51_SNIPPET = textwrap.dedent("""\
    # comment with && and || and $a ?? $b and $x?.y and $c ? 1 : 2
    <# block comment: $a ?? $b #>
    $a = 'single && quoted ?? $x?.y'
    $b = "double && quoted || $($a.Length) ?? ?."
    $c = @"
    here-string && || ?? ?. ? :
    "@
    if (($a -and $b) -or -not $c) { $d = $a.Length } else { $d = 0 }
    $e = @{ key = 'value' }
    $f = $e['key']
    $g = ${env:SystemRoot}
    $h = @(1, 2) | Where-Object { $_ -gt 1 } | ForEach-Object -Process { $_ * 2 }
    $i = if ($null -eq $a) { 'x' } else { 'y' }
    & sc.exe qc CryptSvc
    """)


def test_ps7_detector_accepts_51_code(tmp_path):
    path = tmp_path / "ok.ps1"
    path.write_text(PS51_SNIPPET, encoding="utf-8")
    source = path.read_bytes()
    assert first_syntax_error(source) is None
    assert ps7_constructs(source) == []
    assert [n for n, _unused in command_names(source) if n.lower() in ALIASES] == []


def test_parse_gate_reports_line(tmp_path):
    path = tmp_path / "broken.ps1"
    path.write_text("$a = 1\n$b = @{ a = \n", encoding="utf-8")
    error = first_syntax_error(path.read_bytes())
    assert error is not None and error[0] == 2


GOOD_MODULE = textwrap.dedent("""\
    #!powershell

    #AnsibleRequires -CSharpUtil Ansible.Basic

    $spec = @{
        options = @{
            name = @{ type = 'str'; required = $true }
            force = @{ type = 'bool'; default = $false }
        }
        supports_check_mode = $true
    }
    $module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
    & sc.exe qc $module.Params.name
    $module.ExitJson()
    """)


def test_module_rules_accept_good_module():
    source = GOOD_MODULE.encode()
    assert module_rule_violations(source) == []
    assert spec_option_names(source) == {"name", "force"}


@pytest.mark.parametrize("mutation, problem", [
    (lambda s: s.replace("#!powershell\n", "", 1), "first line is not #!powershell"),
    (lambda s: s.replace("#AnsibleRequires -CSharpUtil Ansible.Basic", "#AnsibleRequires -CSharpUtil Ansible.Privilege"),
     "does not require Ansible.Basic"),
    (lambda s: s.replace("[Ansible.Basic.AnsibleModule]::Create($args, $spec)", "$null"),
     "does not call [Ansible.Basic.AnsibleModule]::Create($args, ...)"),
    (lambda s: s.replace("supports_check_mode = $true", "supports_check_mode = $false"),
     "does not declare supports_check_mode = $true"),
    (lambda s: s.replace("supports_check_mode = $true", "# supports_check_mode = $true"),
     "does not declare supports_check_mode = $true"),
    (lambda s: s.replace("$module.ExitJson()", "Write-Host done\n$module.ExitJson()"), "line 14: Write-Host"),
    (lambda s: s.replace("& sc.exe qc", "sc qc"), "line 13: alias 'sc' used as a command"),
    (lambda s: s + "$x = @(1) | % { $_ }\n", "line 15: alias '%' used as a command"),
    (lambda s: s + "$x = @(1) | ? { $_ }\n", "line 15: alias '?' used as a command"),
    (lambda s: s + "$x = @(1) | foreach { $_ }\n", "line 15: alias 'foreach' used as a command"),
    (lambda s: s + "gci C:\\\n", "line 15: alias 'gci' used as a command"),
    (lambda s: s + "echo 1\n", "line 15: alias 'echo' used as a command"),
    (lambda s: s + "iex 'x'\n", "line 15: alias 'iex' used as a command"),
])
def test_module_rules_reject(tmp_path, mutation, problem):
    path = tmp_path / "bad.ps1"
    path.write_text(mutation(GOOD_MODULE), encoding="utf-8")
    assert problem in module_rule_violations(path.read_bytes())


def test_spec_options_mismatch_is_seen(tmp_path):
    path = tmp_path / "m.ps1"
    path.write_text(GOOD_MODULE.replace("force = @{", "forced = @{"), encoding="utf-8")
    assert spec_option_names(path.read_bytes()) != {"name", "force"}


# ---------------------------------------------------------------------------------------------------
# 5-6: C# utils
# ---------------------------------------------------------------------------------------------------

def _mcs() -> str:
    mcs = shutil.which("mcs")
    if mcs is None:
        if os.environ.get("CI"):
            pytest.fail("mcs is not installed (CI is set): install mono-mcs")
        pytest.skip("mcs is not installed: C# utils are not compiled here")
    return mcs


def compile_cs(sources: list[Path], out: Path, target: str = "library") -> subprocess.CompletedProcess:
    return subprocess.run([_mcs(), f"-target:{target}", "-langversion:5", "-warnaserror+", f"-out:{out}",
                           *map(str, sources)], capture_output=True, text=True, check=False)


def test_there_are_cs_utils():
    assert CS_FILES, "no C# util under plugins/"


@pytest.mark.parametrize("path", CS_FILES, ids=lambda p: p.name)
def test_cs_compiles(tmp_path, path):
    run = compile_cs([path], tmp_path / "util.dll")
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("body, why", [
    ("public class A { public int B() { return 1 } }", "syntax error"),
    ("public class A { public string B(string s) { return s?.Trim(); } }", "C# 6 null-conditional"),
    ("public class A { public string B(int i) { return $\"{i}\"; } }", "C# 6 interpolation"),
    ("public class A { public int B => 1; }", "C# 6 expression body"),
])
def test_cs_gate_rejects(tmp_path, body, why):
    path = tmp_path / "Bad.cs"
    path.write_text("namespace X {\n" + body + "\n}\n", encoding="utf-8")
    assert compile_cs([path], tmp_path / "bad.dll").returncode != 0, why


_REQUIRES = re.compile(r"(?im)^#AnsibleRequires\s+-CSharpUtil\s+(\S+)")


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.name)
def test_csharp_utils_resolve_with_ansible(path):
    from ansible.executor.powershell.module_manifest import PSModuleDepFinder  # pylint: disable=import-outside-toplevel

    finder = PSModuleDepFinder()
    deps = finder.scan_module(path.read_bytes(), fqn=f"{COLLECTION_PREFIX}.modules.{path.stem}", powershell=True)
    for name in _REQUIRES.findall(path.read_text(encoding="utf-8")):
        if name.startswith("..module_utils."):
            util = name[len("..module_utils."):]
            assert f"{COLLECTION_PREFIX}.module_utils.{util}.cs" in deps
            cs = PLUGINS / "module_utils" / f"{util}.cs"
            assert re.search(rf"(?m)^namespace {re.escape(COLLECTION_PREFIX)}\.module_utils\.{util}\s*$",
                             cs.read_text(encoding="utf-8")), f"{cs.name}: namespace must match its path"
        else:
            assert f"{name}.cs" in deps


def accelerators(cs_text: str) -> dict[str, str]:
    return dict(re.findall(r"(?m)^//TypeAccelerator -Name (\S+) -TypeName (\S+)\s*$", cs_text))


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: p.name)
def test_type_accelerators_are_declared(path):
    text = code_only(path.read_bytes())
    declared: dict[str, str] = {}
    for cs in CS_FILES:
        cs_text = cs.read_text(encoding="utf-8")
        for name, type_name in accelerators(cs_text).items():
            assert re.search(rf"public (static |sealed )?class {type_name}\b", cs_text), f"{cs.name}: no class {type_name}"
            declared[name] = type_name
    used = set(re.findall(r"\[(BackupReady\.\w+)\]", text))
    assert used, "the module uses no BackupReady type (the test would prove nothing)"
    assert used <= set(declared), f"undeclared: {sorted(used - set(declared))}"


# ---------------------------------------------------------------------------------------------------
# 7: BackupReady.cs under mono, against Python references
# ---------------------------------------------------------------------------------------------------

HARNESS = r"""
using System;
using System.Collections;
using System.Globalization;
using System.Text;
using ansible_collections.backupready.windows.plugins.module_utils.BackupReady;

public static class Harness
{
    static string J(object o)
    {
        if (o == null) return "null";
        if (o is string)
        {
            StringBuilder b = new StringBuilder("\"");
            foreach (char c in (string)o)
                b.Append(c == '"' || c == '\\' || c < 0x20 || c > 0x7e ? "\\u" + ((int)c).ToString("x4") : c.ToString());
            return b.Append('"').ToString();
        }
        if (o is IDictionary)
        {
            StringBuilder b = new StringBuilder("{");
            foreach (DictionaryEntry e in (IDictionary)o)
                b.Append(b.Length > 1 ? "," : "").Append(J(e.Key)).Append(':').Append(J(e.Value));
            return b.Append('}').ToString();
        }
        if (o is IEnumerable)
        {
            StringBuilder b = new StringBuilder("[");
            foreach (object item in (IEnumerable)o)
                b.Append(b.Length > 1 ? "," : "").Append(J(item));
            return b.Append(']').ToString();
        }
        return Convert.ToString(o, CultureInfo.InvariantCulture);
    }

    public static void Main()
    {
        string line;
        while ((line = Console.ReadLine()) != null)
        {
            string[] parts = line.Split(' ');
            byte[] bytes = RegistryValue.FromHex(parts.Length > 2 ? parts[2] : "");
            if (parts[0] == "decode")
            {
                Console.WriteLine(J(RegistryValue.Decode(UInt32.Parse(parts[1]), bytes, bytes.Length)));
            }
            else if (parts[0] == "reencode")
            {
                IDictionary value = RegistryValue.Decode(UInt32.Parse(parts[1]), bytes, bytes.Length);
                byte[] encoded = RegistryValue.Encode(value);
                IDictionary again = RegistryValue.Decode(RegistryValue.TypeOf((string)value["kind"]), encoded, encoded.Length);
                Console.WriteLine(J(again) + " " + (RegistryValue.Same(value, again) ? "same" : "different"));
            }
            else if (parts[0] == "quote")
            {
                Console.WriteLine(J(ProcessArgument.Quote(Encoding.Unicode.GetString(bytes))));
            }
        }
    }
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    mono = shutil.which("mono")
    if mono is None:
        if os.environ.get("CI"):
            pytest.fail("mono is not installed (CI is set)")
        pytest.skip("mono is not installed: the C# decoding is not run here")
    folder = tmp_path_factory.mktemp("harness")
    source = folder / "Harness.cs"
    source.write_text(HARNESS, encoding="utf-8")
    exe = folder / "harness.exe"
    run = compile_cs([PLUGINS / "module_utils" / "BackupReady.cs", source], exe, target="exe")
    assert run.returncode == 0, run.stdout + run.stderr

    def call(lines: list[str]) -> list[str]:
        out = subprocess.run([mono, str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                             check=True, timeout=120)
        return out.stdout.splitlines()

    return call


def reference_decode(reg_type: int, data: bytes) -> dict:
    """Independent statement of the rules in the brief: UTF-16LE, strip exactly one trailing NUL, keep the rest."""
    def text() -> str:
        s = data.decode("utf-16-le")
        return s[:-1] if s.endswith("\x00") else s
    if reg_type in (1, 2):
        return {"kind": "REG_SZ" if reg_type == 1 else "REG_EXPAND_SZ", "data": text()}
    if reg_type == 7:
        s = text()
        items = s.split("\x00") if s else []
        if items and items[-1] == "":
            items.pop()
        return {"kind": "REG_MULTI_SZ", "data": items}
    if reg_type == 4 and len(data) == 4:
        return {"kind": "REG_DWORD", "data": struct.unpack("<I", data)[0]}
    if reg_type == 11 and len(data) == 8:
        return {"kind": "REG_QWORD", "data": struct.unpack("<Q", data)[0]}
    return {"kind": "REG_NONE" if reg_type == 0 else "REG_BINARY", "data": data.hex()}


REAL_VALUES = [
    # (type, bytes, expected): ImagePath shapes from public reports (embedded NUL: systeminformer #111).
    (2, "\\SystemRoot\\System32\\drivers\\x.sys\x00".encode("utf-16-le"),
     {"kind": "REG_EXPAND_SZ", "data": "\\SystemRoot\\System32\\drivers\\x.sys"}),
    (2, "\\??\\C:\\x\\kph.sys\x00garbage\x00".encode("utf-16-le"),
     {"kind": "REG_EXPAND_SZ", "data": "\\??\\C:\\x\\kph.sys\x00garbage"}),
    (1, "a\x00\x00".encode("utf-16-le"), {"kind": "REG_SZ", "data": "a\x00"}),
    (1, b"", {"kind": "REG_SZ", "data": ""}),
    (7, "C:\\a.exe\x00D:\\b.sys\x00\x00".encode("utf-16-le"), {"kind": "REG_MULTI_SZ", "data": ["C:\\a.exe", "D:\\b.sys"]}),
    (7, "\x00".encode("utf-16-le"), {"kind": "REG_MULTI_SZ", "data": []}),
    (7, "a\x00\x00b\x00\x00".encode("utf-16-le"), {"kind": "REG_MULTI_SZ", "data": ["a", "", "b"]}),
    (4, b"\xff\xff\xff\xff", {"kind": "REG_DWORD", "data": 4294967295}),
    (4, b"\x01\x00\x00\x00", {"kind": "REG_DWORD", "data": 1}),
    (4, b"\x01\x00", {"kind": "REG_BINARY", "data": "0100"}),
    (11, b"\x00" * 7 + b"\x80", {"kind": "REG_QWORD", "data": 2 ** 63}),
    (3, b"\x01\x00\x04\x80", {"kind": "REG_BINARY", "data": "01000480"}),
    (0, b"\xab", {"kind": "REG_NONE", "data": "ab"}),
    (6, b"\x41\x00", {"kind": "REG_BINARY", "data": "4100"}),
]


def test_decode_real_values(harness):
    lines = harness([f"decode {t} {data.hex()}" for t, data, _unused in REAL_VALUES])
    assert [json.loads(line) for line in lines] == [expected for _unused1, _unused2, expected in REAL_VALUES]


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
_string_bytes = st.builds(lambda parts, tail: "\x00".join(parts).encode("utf-16-le") + b"\x00\x00" * tail,
                          st.lists(_text, max_size=4), st.integers(0, 2))
_cases = st.one_of(
    st.tuples(st.sampled_from([1, 2, 7]), _string_bytes),
    st.tuples(st.sampled_from([0, 3, 4, 5, 6, 11]), st.binary(max_size=12)),
)


# Each example is one mono process holding a batch of cases (not one process per case).
@settings(max_examples=40, deadline=None)
@given(st.lists(_cases, min_size=1, max_size=60))
def test_decode_matches_reference_and_reencodes(harness, cases):
    lines = [f"decode {t} {b.hex()}" for t, b in cases] + [f"reencode {t} {b.hex()}" for t, b in cases]
    out = harness(lines)
    decoded, reencoded = out[:len(cases)], out[len(cases):]
    for (reg_type, data), got, again in zip(cases, decoded, reencoded):
        expected = reference_decode(reg_type, data)
        assert json.loads(got) == expected, (reg_type, data.hex())
        value, verdict = again.rsplit(" ", 1)
        assert json.loads(value) == expected and verdict == "same", (reg_type, data.hex(), again)


def parse_quoted(argument: str) -> str:
    """One argument as the Microsoft C runtime reads it (backslash and quote rules)."""
    out, i, quoted = [], 0, False
    while i < len(argument):
        if argument[i] == "\\":
            j = i
            while j < len(argument) and argument[j] == "\\":
                j += 1
            count = j - i
            if j < len(argument) and argument[j] == '"':
                out.append("\\" * (count // 2))
                if count % 2:
                    out.append('"')
                    i = j + 1
                else:
                    i = j
                continue
            out.append("\\" * count)
            i = j
        elif argument[i] == '"':
            quoted = not quoted
            i += 1
        else:
            assert quoted or argument[i] not in " \t", f"unquoted whitespace in {argument!r}"
            out.append(argument[i])
            i += 1
    assert not quoted, f"unterminated quote in {argument!r}"
    return "".join(out)


QUOTE_TABLE = [
    ("CryptSvc", "CryptSvc"),
    ("D:(A;;CCLCSWLOCRRC;;;SU)", "D:(A;;CCLCSWLOCRRC;;;SU)"),
    ("My Service", '"My Service"'),
    ("", '""'),
    ('a"b', '"a\\"b"'),
    ("C:\\dir\\", "C:\\dir\\"),
    ("C:\\my dir\\", '"C:\\my dir\\\\"'),
]


@pytest.mark.parametrize("argument, quoted", QUOTE_TABLE)
def test_quote_table(harness, argument, quoted):
    assert json.loads(harness([f"quote - {argument.encode('utf-16-le').hex()}"])[0]) == quoted


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(['a', ' ', '\t', '\\', '"', 'é', ';']), max_size=10),
                min_size=1, max_size=60))
def test_quote_round_trips(harness, arguments):
    out = harness([f"quote - {a.encode('utf-16-le').hex()}" for a in arguments])
    for argument, line in zip(arguments, out):
        assert parse_quoted(json.loads(line)) == argument


# ---------------------------------------------------------------------------------------------------
# 8: what the compiler cannot see (C# 6 getter-only properties, APIs of one runtime only)
# ---------------------------------------------------------------------------------------------------

def cs_code_only(text: str) -> str:
    """C# source with comments and string/char literals blanked out (line breaks kept)."""
    out = list(text)
    i = 0
    n = len(text)

    def blank(start: int, end: int) -> None:
        for k in range(start, min(end, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            blank(i, end)
            i = end
        elif text.startswith('@"', i):
            j = i + 2
            while j < n and not (text[j] == '"' and not text.startswith('""', j)):
                j += 2 if text.startswith('""', j) else 1
            blank(i, j + 1)
            i = j + 1
        elif text[i] in "\"'":
            quote = text[i]
            j = i + 1
            while j < n and text[j] != quote and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


RUNTIME_ONLY_APIS = [
    (re.compile(r"\[System\.IO\.(?:File|Directory)\]::(?:Get|Set)AccessControl\b", re.IGNORECASE),
     "[System.IO.File|Directory]::Get/SetAccessControl is .NET Framework only (absent on PowerShell 7)"),
    (re.compile(r"\bFileSystemAclExtensions\b", re.IGNORECASE),
     "FileSystemAclExtensions is .NET Core only (absent on Windows PowerShell 5.1)"),
    (re.compile(r"\.(?:Get|Set)AccessControl\s*\(", re.IGNORECASE),
     ".GetAccessControl( / .SetAccessControl( is .NET Framework only (an extension method PowerShell 7 does not bind)"),
]
_GETTER_ONLY = re.compile(r"\{\s*get\s*;\s*\}")


def runtime_api_violations(code: str) -> list[str]:
    found = []
    for pattern, why in RUNTIME_ONLY_APIS:
        for match in pattern.finditer(code):
            found.append(f"line {code.count(chr(10), 0, match.start()) + 1}: {why}")
    return found


def cs_violations(text: str) -> list[str]:
    code = cs_code_only(text)
    found = [f"line {code.count(chr(10), 0, m.start()) + 1}: getter-only auto-property {{ get; }} is C# 6"
             for m in _GETTER_ONLY.finditer(code)]
    return found + runtime_api_violations(code)


@pytest.mark.parametrize("path", CS_FILES, ids=lambda p: p.name)
def test_cs_has_no_csharp6_property_or_runtime_only_api(path):
    assert cs_violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", PS_FILES, ids=lambda p: p.name)
def test_ps_has_no_runtime_only_api(path):
    assert runtime_api_violations(code_only(path.read_bytes())) == []


@pytest.mark.parametrize("body, problem, mcs_accepts", [
    ("public class A { public int B { get; } }", "line 2: getter-only auto-property { get; } is C# 6", True),
    ("public class A { public int B {\n get;\n } }", "line 2: getter-only auto-property { get; } is C# 6", True),
    ("public class A { void M(string p) { System.IO.File.GetAccessControl(p); } }",
     "line 2: .GetAccessControl( / .SetAccessControl( is .NET Framework only (an extension method PowerShell 7 does not bind)",
     True),
    ("public class A { void M(System.IO.FileInfo f) { System.IO.FileSystemAclExtensions.GetAccessControl(f); } }",
     "line 2: FileSystemAclExtensions is .NET Core only (absent on Windows PowerShell 5.1)", False),
])
def test_cs_gate_rejects_what_mcs_accepts(tmp_path, body, problem, mcs_accepts):
    text = "namespace X {\n" + body + "\n}\n"
    assert problem in cs_violations(text)
    compiled = compile_cs([_write(tmp_path / "Accepted.cs", text)], tmp_path / "a.dll")
    assert (compiled.returncode == 0) == mcs_accepts, compiled.stdout


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_cs_gate_ignores_comments_and_strings():
    text = textwrap.dedent('''\
        // a { get; } in a comment, and [System.IO.File]::GetAccessControl
        /* FileSystemAclExtensions */
        public class A {
            public int B { get; set; }
            public int C { get { return 1; } }
            string D = "{ get; } FileSystemAclExtensions .GetAccessControl(";
            string E = @"a "" { get; } .SetAccessControl(";
            char F = '{';
        }
        ''')
    assert cs_violations(text) == []


@pytest.mark.parametrize("line, problem", [
    ("$s = [System.IO.Directory]::GetAccessControl($p, 'Owner')",
     "[System.IO.File|Directory]::Get/SetAccessControl is .NET Framework only (absent on PowerShell 7)"),
    ("[System.IO.File]::SetAccessControl($p, $sec)",
     "[System.IO.File|Directory]::Get/SetAccessControl is .NET Framework only (absent on PowerShell 7)"),
    ("[System.IO.FileSystemAclExtensions]::SetAccessControl([System.IO.DirectoryInfo]$p, $sec)",
     "FileSystemAclExtensions is .NET Core only (absent on Windows PowerShell 5.1)"),
    ("$acl = (Get-Item -LiteralPath $p).GetAccessControl('Access')",
     ".GetAccessControl( / .SetAccessControl( is .NET Framework only (an extension method PowerShell 7 does not bind)"),
])
def test_ps_gate_rejects_runtime_only_api(tmp_path, line, problem):
    path = _write(tmp_path / "m.ps1", "# [System.IO.File]::GetAccessControl in a comment is fine\n" + line + "\n")
    found = runtime_api_violations(code_only(path.read_bytes()))
    assert [f"line 2: {problem}"] == found[:1], found


def test_ps_gate_accepts_the_api_in_strings_and_comments(tmp_path):
    path = _write(tmp_path / "ok.ps1", "$m = 'use [System.IO.File]::GetAccessControl( no more'\n<# FileSystemAclExtensions #>\n")
    assert runtime_api_violations(code_only(path.read_bytes())) == []
