"""The remediation knowledge base: built-in content is complete and correct, users can extend it."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from vulnpipe.ingest.profiles import builtin_profiles
from vulnpipe.reports.remediation.knowledge import (
    MATCH_GENERIC,
    MATCH_PLATFORM,
    MATCH_PROFILE,
    KnowledgeError,
    Remediation,
    load_knowledge,
)
from vulnpipe.reports.remediation.platform import PLATFORMS

ROOT = Path(__file__).resolve().parents[1]
TYPOGRAPHIC = "\u201c\u201d\u2018\u2019"
#: The built-in campaign profiles ("all" selects every finding: no campaign, no guidance).
CAMPAIGNS = sorted(set(builtin_profiles()) - {"all"})
SECTION_LISTS = ("confirm", "steps", "verify_local", "verify_rescan", "rollback", "if_needed")


def _builtin_files() -> list:
    root = resources.files("vulnpipe.templates").joinpath("remediation")
    return sorted((f for f in root.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)


def _all_text(rem: Remediation) -> list[str]:
    """Every piece of text and every command of a remediation."""
    out = [rem.title, rem.why, *rem.references]
    for name in SECTION_LISTS:
        for step in getattr(rem, name):
            out.append(step.text)
            out.extend(step.commands)
    return out


def _commands(rem: Remediation) -> list[str]:
    return [c for name in SECTION_LISTS for s in getattr(rem, name) for c in s.commands]


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


# ------------------------------------------------------------------------ built-in content


def test_every_builtin_file_loads_on_its_own(tmp_path):
    files = _builtin_files()
    # one file per plugin of the l2tp profile (named after it) and the profile's own file
    names = [f.name for f in files]
    assert {f"profile_{p}.toml" for p in CAMPAIGNS} <= set(names)
    assert sorted(int(n.split("_", 1)[0]) for n in names if not n.startswith("profile_")) == sorted(
        builtin_profiles()["l2tp"].plugin_ids)
    for f in files:
        d = tmp_path / f.name.removesuffix(".toml")
        d.mkdir()
        (d / f.name).write_text(f.read_text("utf-8"), "utf-8")
        load_knowledge([d])   # validated like a user file, without a KnowledgeError


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_every_builtin_profile_has_guidance_for_a_finding_it_selected_by_port(kb, platform):
    """A finding a profile selected only by its port (a plugin with no entry of its own,
    e.g. a service detection on tcp/1723 for pptp) still gets remediation, the profile's."""
    for name in CAMPAIGNS:
        rem = kb.find(99999, platform, name)
        assert rem is not None and rem.matched == MATCH_PROFILE, name
        assert rem.steps and rem.verify_rescan and rem.why.strip()
    assert "1723" in kb.find(99999, platform, "pptp").title


def test_every_l2tp_profile_plugin_has_its_own_entry(kb):
    profile = builtin_profiles()["l2tp"]
    assert profile.plugin_ids <= set(kb.plugin_ids())
    assert 68453 not in kb.plugin_ids()


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_l2tp_11387_has_complete_guidance_for_every_platform(kb, platform):
    rem = kb.for_finding(11387, platform)
    assert rem.matched == MATCH_PLATFORM and rem.platform == platform
    assert rem.plugin_ids == (11387,)
    assert rem.platform_label
    for name in SECTION_LISTS:
        steps = getattr(rem, name)
        assert steps and all(s.text.strip() for s in steps), f"{platform}: {name} is empty"
    rescan = " ".join(s.text for s in rem.verify_rescan)
    assert "11387" in rescan and "udp/1701" in rescan


def test_l2tp_windows_server_uses_remoteaccess_and_expects_stopped_disabled(kb):
    rem = kb.for_finding(11387, "windows_server")
    commands = _commands(rem)
    assert any("RemoteAccess" in c for c in rem.steps[1].commands + rem.steps[2].commands)
    assert "Stop-Service -Name RemoteAccess -Force" in commands
    assert "Set-Service -Name RemoteAccess -StartupType Disabled" in commands
    assert "sc.exe config RemoteAccess start= disabled" in commands
    local = " ".join(s.text + " " + " ".join(s.commands) for s in rem.verify_local)
    assert "sc.exe query RemoteAccess" in local and "STATE : 1 STOPPED" in local
    assert "sc.exe qc RemoteAccess" in local and "START_TYPE : 4 DISABLED" in local
    assert "RUNNING" not in local
    assert "Get-NetUDPEndpoint -LocalPort 1701" in local


@pytest.mark.parametrize("platform", ["windows_server", "windows_client"])
def test_l2tp_windows_never_names_a_service_l2tp_network_server(kb, platform):
    rem = kb.for_finding(11387, platform)
    assert not any("L2TP Network Server" in c for c in _commands(rem))
    as_service = re.compile(r"L2TP Network Server(?! Detection)")   # the plugin name is fine
    for step in (s for name in SECTION_LISTS for s in getattr(rem, name)):
        if as_service.search(step.text):
            assert "no Windows service called 'L2TP Network Server'" in step.text


def test_no_builtin_text_or_command_has_typographic_quotes(kb):
    for f in _builtin_files():
        text = f.read_text("utf-8")
        assert not any(ch in text for ch in TYPOGRAPHIC), f.name
    for pid in kb.plugin_ids():
        for platform in kb.platforms(pid):
            for cmd in _commands(kb.for_finding(pid, platform)):
                assert not any(ch in cmd for ch in TYPOGRAPHIC), (pid, platform, cmd)
                assert cmd.isascii(), (pid, platform, cmd)


def test_l2tp_entry_mentions_68453_only_to_say_it_is_not_l2tp(kb):
    seen = False
    for platform in PLATFORMS:
        for text in _all_text(kb.for_finding(11387, platform)):
            for sentence in re.split(r"(?<=[.;:])\s+", text):
                if "68453" in sentence:
                    seen = True
                    assert "not L2TP" in sentence, sentence
    assert seen   # the rescan guidance warns about the mix-up


def test_fallback_order_platform_then_generic_then_profile(kb):
    assert kb.for_finding(11387, "no_such_platform").matched == MATCH_GENERIC
    rem = kb.for_finding(62695, "linux")
    assert (rem.matched, rem.platform) == (MATCH_GENERIC, "generic")
    rem = kb.for_finding(99999, "linux")
    assert rem.matched == MATCH_PROFILE and rem.profile == "l2tp" and rem.steps
    assert kb.find(99999, "linux", profile=None) is None
    with pytest.raises(KnowledgeError, match="no remediation knowledge for plugin 99999"):
        kb.for_finding(99999, "linux", profile=None)


def test_remediation_dict_is_json_ready_with_stable_fields(kb):
    data = kb.for_finding(11387, "linux").to_dict()
    assert list(data) == ["plugin_ids", "title", "why", "platform", "platform_label", "confirm",
                          "steps", "verify_local", "verify_rescan", "rollback", "if_needed",
                          "references", "profile", "matched"]
    assert json.loads(json.dumps(data)) == data
    assert set(data["steps"][0]) == {"text", "commands", "shell"}


def test_docs_list_every_platform_key():
    doc = (ROOT / "docs" / "remediation.md").read_text("utf-8")
    for key in PLATFORMS:
        assert f"`{key}`" in doc, key


# ------------------------------------------------------------------------- user overrides

USER_LINUX = '''
plugin_ids = [11387]

[platforms.linux]
label = "Our hardened Linux build"
confirm = ["Run our inventory agent query."]
steps = [{ text = "Remove the xl2tpd role:", shell = "sh", commands = ["sudo salt-call state.apply no-l2tp"] }]
verify_local = ["The agent reports no l2tp role."]
rollback = ["Re-apply the previous state."]
if_needed = ["Ask the network team for the central VPN."]
'''

USER_NEW_PLUGIN = '''
plugin_ids = [12345]
title = "Our own VPN appliance is exposed"
why = "It should only be reachable from the management network."
verify_rescan = ["Rescan with plugin 12345 enabled."]

[platforms.generic]
confirm = ["Check the appliance's admin page."]
steps = ["Turn the VPN listener off."]
verify_local = ["The admin page shows the listener off."]
rollback = ["Turn it back on."]
if_needed = ["Restrict it to the management network."]
'''


def test_user_directory_replaces_a_platform_section_and_adds_a_plugin(tmp_path, kb):
    d = tmp_path / "knowledge"
    d.mkdir()
    (d / "l2tp-linux.toml").write_text(USER_LINUX, "utf-8")
    (d / "appliance.toml").write_text(USER_NEW_PLUGIN, "utf-8")
    mine = load_knowledge([d])

    linux = mine.for_finding(11387, "linux")
    assert linux.platform_label == "Our hardened Linux build"
    assert [c for s in linux.steps for c in s.commands] == ["sudo salt-call state.apply no-l2tp"]
    assert linux.title == kb.for_finding(11387, "linux").title          # kept from built-in
    assert linux.verify_rescan == kb.for_finding(11387, "linux").verify_rescan
    assert linux.source.endswith("l2tp-linux.toml")
    assert mine.for_finding(11387, "windows_server") == kb.for_finding(11387, "windows_server")

    new = mine.for_finding(12345, "mikrotik")
    assert (new.title, new.matched) == ("Our own VPN appliance is exposed", MATCH_GENERIC)
    assert kb.find(12345, "mikrotik", profile=None) is None                # built-ins untouched


def test_later_user_directory_wins(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (first / "x.toml").write_text(USER_NEW_PLUGIN, "utf-8")
    (second / "x.toml").write_text(USER_NEW_PLUGIN.replace("Our own VPN appliance is exposed",
                                                           "Second title"), "utf-8")
    assert load_knowledge([first, second]).for_finding(12345, "generic").title == "Second title"


BAD = {
    "not toml": ("plugin_ids = [11387\n", "not valid TOML"),
    "unknown top key": ("plugin_ids = [11387]\nseverity = 3\n" + USER_LINUX.split("\n", 2)[2],
                        "unknown key severity in top level"),
    "unknown section key": (USER_LINUX + "owner = \"me\"\n", "unknown key owner in platforms.linux"),
    "unknown platform": (USER_LINUX.replace("platforms.linux", "platforms.windows-server"),
                         "unknown platform 'windows-server'"),
    "missing steps": (USER_LINUX.replace('steps = [{', 'stepz = [{'), "unknown key stepz"),
    "missing rollback": (USER_LINUX.replace('rollback = ["Re-apply the previous state."]\n', ""),
                         "platforms.linux is missing rollback"),
    "typographic quotes": (USER_LINUX.replace('state.apply no-l2tp', 'state.apply \u201cno-l2tp\u201d'),
                           "left double quote"),
    "new plugin without title": (USER_NEW_PLUGIN.replace('title = "Our own VPN appliance is exposed"\n', ""),
                                 "a new entry needs title and why"),
    "new plugin without rescan": (USER_NEW_PLUGIN.replace('verify_rescan = ["Rescan with plugin 12345 enabled."]\n', ""),
                                  "has no verify_rescan"),
    "both ids and profile": ('profile = "l2tp"\n' + USER_LINUX, "exactly one of plugin_ids"),
    "ids not integers": (USER_LINUX.replace("[11387]", '["11387"]'), "plugin_ids must be"),
    "no platforms": ('plugin_ids = [11387]\ntitle = "t"\n', "missing [platforms.NAME]"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_user_knowledge_file_gives_one_line_naming_the_file(tmp_path, case):
    text, expected = BAD[case]
    d = tmp_path / "knowledge"
    d.mkdir()
    (d / "broken.toml").write_text(text, "utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge([d])
    message = str(info.value)
    assert "\n" not in message
    assert "broken.toml" in message
    assert expected in message


def test_two_files_in_one_directory_claiming_one_plugin_are_refused(tmp_path):
    d = tmp_path / "knowledge"
    d.mkdir()
    (d / "a.toml").write_text(USER_LINUX, "utf-8")
    (d / "b.toml").write_text(USER_LINUX, "utf-8")
    with pytest.raises(KnowledgeError, match=r"b\.toml: plugin 11387 is also defined in .*a\.toml"):
        load_knowledge([d])


def test_missing_user_directory_is_a_clear_error(tmp_path):
    with pytest.raises(KnowledgeError, match="knowledge directory not found"):
        load_knowledge([tmp_path / "nope"])


def test_builtin_knowledge_ships_inside_the_installed_package(tmp_path):
    """The loader reads through importlib.resources, so a copy of the package elsewhere works."""
    pkg = tmp_path / "site" / "templates"
    shutil.copytree(ROOT / "templates", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import templates; "
            "from vulnpipe.reports.remediation.knowledge import load_knowledge; "
            "assert templates.__file__.startswith(sys.argv[1]), templates.__file__; "
            "print(sorted(load_knowledge().plugin_ids()))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # every entry of the repository's knowledge base, read from the copy
    assert json.loads(out.stdout) == sorted(load_knowledge().plugin_ids()) == sorted(
        builtin_profiles()["l2tp"].plugin_ids)
