"""What the assess playbook prints, as an operator reads it: paths as Windows shows them, what fixes each finding,
what to run next (and that running it does what it says), and the README's sample output, which is real output."""

import os
import re

import pytest

from runner import COLLECTIONS, ROOT, ansible_env, copy_fleet, run

pytestmark = pytest.mark.playbook

HOSTS = ["mars-winmad", "hv-doubled", "excl-bad", "missing-driver"]


def assess(tmp_path, inventory):
    done = run("ansible-playbook", "-i", inventory, "backupready.windows.assess", "-e", "backupready_gate=false",
               cwd=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def host_block(stdout: str, host: str) -> str:
    """What the readiness_report callback printed for one host as its assessment arrived: its first line, labelled
    with the host, then the host's other lines, indented."""
    start = stdout.index(f"backupready [{host}] ")
    lines = stdout[start:].split("\n")
    end = next((i for i, line in enumerate(lines[1:], 1) if not line.startswith("    ")), len(lines))
    return "\n".join(lines[:end])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("console")
    inventory = copy_fleet(tmp_path, HOSTS)
    return tmp_path, inventory, assess(tmp_path, inventory)


def test_paths_are_printed_as_windows_shows_them(fleet):
    _tmp, _inventory, stdout = fleet
    winmad = host_block(stdout, "mars-winmad")
    # The callback prints the text itself (no YAML or JSON quoting): one doubled backslash, the defect.
    assert "'\\\\systemroot\\system32\\drivers\\winmad.sys'" in winmad
    assert winmad.count("\\\\") == 1
    for host in ("hv-doubled", "excl-bad", "missing-driver"):
        assert "\\\\" not in host_block(stdout, host), host


def test_fixable_says_by_what_and_the_next_step_is_printed(fleet):
    _tmp, _inventory, stdout = fleet
    hv = " ".join(host_block(stdout, "hv-doubled").split())
    assert "[fixable: backupready.windows.remediate, role imagepath (win_service_imagepath); on by default:" in hv
    assert ("NEXT: preview the fixes with `ansible-playbook -i <inventory> backupready.windows.remediate --check "
            "--diff --limit hv-doubled`, then run it without --check") in hv
    missing = " ".join(host_block(stdout, "missing-driver").split())
    assert "[fixable" not in missing
    # a binary that does not exist: repaired by its owner, or excluded with the opt-in switches the line names
    assert ("[opt-in: backupready.windows.remediate, role systemwriter (win_systemwriter_exclusions); set "
            "readiness_fix_exclusions=true and systemwriter_exclude_unreachable=true and "
            "systemwriter_include_missing_file=true]") in missing
    assert ("NEXT: preview the fixes with `ansible-playbook -i <inventory> backupready.windows.remediate --check "
            "--diff --limit missing-driver -e readiness_fix_exclusions=true -e systemwriter_exclude_unreachable=true "
            "-e systemwriter_include_missing_file=true`") in missing


def test_the_next_step_command_fixes_what_it_says(fleet):
    tmp_path, inventory, stdout = fleet
    block = " ".join(host_block(stdout, "excl-bad").split())
    command = re.search(r"NEXT: preview the fixes with `([^`]+)`", block).group(1)
    assert "-e readiness_fix_exclusions=true -e systemwriter_remove_invalid=true" in command
    args = command.split()[1:]
    args[args.index("<inventory>")] = inventory
    done = run("ansible-playbook", *args, "--limit", "excl-bad", cwd=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    task = "TASK [backupready.windows.readiness : Assess, remediate what can be fixed safely"
    diff = done.stdout[done.stdout.index(task):]
    diff = diff[:diff.index("TASK [", len(task))]
    assert "changed: [excl-bad]" in diff
    for entry in ('"E:\\Apps\\svc.exe"', "%ProgramFiles%\\Vendor\\agent.exe", "E:\\Apps\\"):
        assert f"-{entry}\n" in diff, entry  # the --diff removes each invalid entry, single backslashes


def test_the_readme_sample_output_is_real_output(tmp_path):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    section = readme[readme.index("## Two commands"):readme.index("## On real servers")]
    sample = re.search(r"```\n(ok: \[.*?)```", section, re.S).group(1).splitlines()
    hosts = re.findall(r"^ok: \[([^\]]+)\]$", "\n".join(sample), re.M)
    assert hosts, "no sample output in the README"
    stdout = assess(tmp_path, copy_fleet(tmp_path, hosts))
    printed = [line.rstrip() for line in stdout.splitlines()]
    # host by host: the hosts finish in any order; the callback prints a host's lines right after its "ok:"
    starts = [i for i, line in enumerate(sample) if re.match(r"^ok: \[[^\]]+\]$", line)] + [len(sample)]
    for start, end in zip(starts, starts[1:]):
        block = sample[start:end]
        first = printed.index(block[0])
        assert printed[first:first + len(block)] == block


def test_the_lines_read_right_whatever_the_result_format(tmp_path):
    """Outside this checkout the console shows JSON (no callback_result_format = yaml): the report callback, enabled
    as every recipe of the README does, prints the lines again with single backslashes."""
    inventory = copy_fleet(tmp_path, ["mars-winmad"])
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n"
                      f"collections_path = {COLLECTIONS}\n"
                      "callbacks_enabled = backupready.windows.readiness_report\n", encoding="utf-8")
    env = ansible_env(ANSIBLE_CONFIG=str(config))
    env.pop("ANSIBLE_CALLBACK_RESULT_FORMAT", None)
    defect = "derives '\\\\systemroot\\system32\\drivers\\winmad.sys'"  # the one doubled backslash is the defect
    # gate off: the callback prints the host's lines itself, as text
    done = run("ansible-playbook", "-i", inventory, "backupready.windows.assess", "-e", "backupready_gate=false",
               env=env, cwd=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "backupready [mars-winmad] NOT READY: 1 finding(s)" in done.stdout
    plain = [line for line in done.stdout.splitlines() if line.startswith("    ERROR    invalid_syntax")]
    assert len(plain) == 1 and defect in plain[0] and plain[0].count("\\\\") == 1, plain
    assert plain[0].rstrip().endswith("(KB 4053355, KB 968247)")
    # gate on: the play that fails the host shows them in its message (JSON here), and the callback again as text
    done = run("ansible-playbook", "-i", inventory, "backupready.windows.assess", env=env, cwd=str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "fatal: [mars-winmad]: FAILED! => {" in done.stdout and "NOT READY: 1 finding(s)" in done.stdout
    assert "backupready [mars-winmad], the lines above as Windows shows the values:" in done.stdout
    plain = [line for line in done.stdout.splitlines() if line.startswith("    ERROR    invalid_syntax")]
    assert len(plain) == 1 and defect in plain[0] and plain[0].count("\\\\") == 1, plain
