"""Which interfaces and disks a device job watches (``pollers/selection.py``): the rule
itself, its errors in words, how it combines with ``mounts`` and the default disk rule, and
each protocol's names and types (SSH's ARPHRD types, WinRM's DeviceID and FileSystem).

The expected sets are written out here from the inputs, or computed with Python's ``re``
(the rule runs RE2): the two engines agree on these patterns."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from netgauge.pollers import filesystems
from netgauge.pollers.jobs import SnmpJobParams, SshJobParams, WinrmJobParams
from netgauge.pollers.selection import (
    DiskSelection,
    InterfaceSelection,
    if_type_name,
)
from netgauge.pollers.ssh import POLL_COMMAND, parse_if_types, parse_output
from netgauge.pollers.winrm import disk_metrics, interface_metrics
from netgauge.pollers.winrm_wsman import Row
from netgauge.probes.base import params_error, validate_params

NAMES = ["lo", "eth0", "eth1", "veth1a2b", "veth9", "docker0", "br-5f3a", "wlan0", "Gi1/0/1"]


def kept_by_re(names: list[str], include: list[str], exclude: list[str]) -> set[str]:
    """The truth, by Python's re: searched anywhere in the name, include then exclude."""
    return {
        name
        for name in names
        if (not include or any(re.search(p, name) for p in include))
        and not any(re.search(p, name) for p in exclude)
    }


@pytest.mark.parametrize(
    ("include", "exclude"),
    [
        ([], []),
        ([], ["^veth", "^docker", "^br-"]),
        (["^eth", "^wlan"], []),
        (["^(eth|veth)"], ["9$"]),
        (["/"], []),
        (["eth"], ["^v"]),  # searched, not matched from the start: eth0 and veth both hold it
    ],
)
def test_include_then_exclude_are_searched_in_the_name(
    include: list[str], exclude: list[str]
) -> None:
    chosen = InterfaceSelection(include=include, exclude=exclude, skip_types=[])
    assert {n for n in NAMES if chosen.keeps(n)} == kept_by_re(NAMES, include, exclude)


def test_loopbacks_are_left_out_by_default_and_a_type_only_where_it_is_known() -> None:
    default = InterfaceSelection()
    assert not default.keeps("lo", "softwareLoopback")
    assert default.keeps("lo", None)  # a protocol that tells no type: names only
    assert default.keeps("eth0", "ethernetCsmacd")
    assert InterfaceSelection(skip_types=[]).keeps("lo", "softwareLoopback")
    lag = InterfaceSelection(skip_types=["ieee8023adLag", "softwareLoopback"])
    assert not lag.keeps("Port-Channel1", if_type_name(161))
    assert if_type_name(24) == "softwareLoopback"
    assert if_type_name(9999) == "9999"  # unnamed: the number, which a rule may name


def test_disks_keep_everything_by_default_and_skip_types_adds_to_the_default_rule() -> None:
    assert DiskSelection().keeps("/", "ext4")
    ext4 = DiskSelection(skip_types=["ext4"])
    assert not filesystems.is_disk("/", fstype="ext4", disks=ext4)
    assert filesystems.is_disk("/data", fstype="xfs", disks=ext4)
    # the default rule still applies: a tmpfs is no disk whatever the selection says
    assert not filesystems.is_disk("/srv/tmp", fstype="tmpfs", disks=DiskSelection())


def test_mounts_select_first_and_disks_apply_on_top() -> None:
    """``mounts`` replaces the default rule (a pseudo mount may be chosen); ``disks`` then
    leaves out what it does not keep, whichever way the mount came in."""
    mounts = ["/", "/run/netns*", "/data*"]
    chosen = DiskSelection(exclude=["^/run/netns"])
    assert filesystems.is_disk("/run/netns", fstype="ext4", selected=mounts)
    assert not filesystems.is_disk("/run/netns", fstype="ext4", selected=mounts, disks=chosen)
    assert filesystems.is_disk("/data1", fstype="xfs", selected=mounts, disks=chosen)
    assert not filesystems.is_disk("/home", fstype="xfs", selected=mounts, disks=chosen)
    # a label other than the mount point (Junos) is what the regexes see
    junos = "/dev/gpt/var: /var file system, mounted on: /.mount/var"
    gpt = DiskSelection(exclude=["^/dev/gpt/var:"])
    assert not filesystems.is_disk("/.mount/var", disks=gpt, label=junos)


@pytest.mark.parametrize("model", [SnmpJobParams, SshJobParams, WinrmJobParams])
def test_every_device_job_takes_them_with_the_defaults(model: type) -> None:
    params = validate_params(model, {}, None)
    assert params.interfaces == InterfaceSelection()  # type: ignore[attr-defined]
    assert params.interfaces.skip_types == ["softwareLoopback"]  # type: ignore[attr-defined]
    assert params.disks == DiskSelection()  # type: ignore[attr-defined]
    given = {"interfaces": {"exclude": ["^veth"]}, "disks": {"skip_types": ["vfat"]}}
    set_ = validate_params(model, given, None)
    assert set_.interfaces.exclude == ["^veth"]  # type: ignore[attr-defined]
    # a nested setting left out keeps its default: loopbacks are still skipped
    assert set_.interfaces.skip_types == ["softwareLoopback"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"interfaces": {"include": ["("]}},
            "params.interfaces.include.0: '(' is not a regular expression: missing ): (",
        ),
        (
            {"interfaces": {"exclude": ["^eth", "(?<=x)y"]}},
            "params.interfaces.exclude.1: '(?<=x)y' is not a regular expression",
        ),
        (
            {"disks": {"include": [r"(a)\1"]}},
            r"params.disks.include.0: '(a)\\1' is not a regular expression",
        ),
        ({"interfaces": {"exlude": ["^eth"]}}, "params.interfaces.exlude: unknown key"),
        ({"interfaces": {"include": "^eth"}}, "params.interfaces.include: must be a list"),
        ({"disks": {"skip_types": [""]}}, "params.disks.skip_types.0: "),
        ({"interfaces": ["^eth"]}, "params.interfaces: "),
    ],
)
def test_bad_settings_name_the_field_in_words(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_params(SnmpJobParams, params, None)
    said = params_error(caught.value)
    assert said.startswith(message), said
    assert "Value error" not in said and "input_value" not in said  # words, not pydantic's


def test_a_bad_pattern_is_said_in_words_not_logged(capfd: pytest.CaptureFixture[str]) -> None:
    """RE2 writes a parse error to the process's stderr (file descriptor 2) unless told
    not to: an operator's typo must not fill the service's log."""
    with pytest.raises(ValidationError):
        InterfaceSelection(include=["(unclosed"])
    assert "unclosed" not in capfd.readouterr().err


# -- SSH: /sys/class/net types and /proc/mounts file system types ---------------------------

OUTPUT = """\
@@netgauge netdev
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop
    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0
  eth0: 200 2 0 0 0 0 0 0 300 3 0 0 0 0 0 0
veth1a2b: 400 4 0 0 0 0 0 0 500 5 0 0 0 0 0 0
 wg0: 600 6 0 0 0 0 0 0 700 7 0 0 0 0 0 0
 sit0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
@@netgauge iftype
lo\t772
eth0\t1
veth1a2b\t1
wg0\t65534
sit0\t776
@@netgauge df
Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/vda         1000     250       750      25% /
/dev/vdb         1000     500       500      50% /data
/dev/vdc         1000     100       900      10% /boot/efi
/dev/vda         1000     250       750      25% /run/netns
@@netgauge mounts
/dev/vda / ext4 rw,relatime 0 0
/dev/vdb /data xfs rw,relatime 0 0
/dev/vdc /boot/efi vfat rw,relatime 0 0
/dev/vda /run/netns ext4 rw,relatime 0 0
@@netgauge end
"""


def test_ssh_types_interfaces_by_their_arphrd_number() -> None:
    assert parse_if_types("lo\t772\neth0\t1\nwg0\t65534\nodd\t9999\nbad\tx\n") == {
        "lo": "softwareLoopback",
        "eth0": "ethernetCsmacd",
        "wg0": "tunnel",
        "odd": "arphrd9999",  # not a bare number: that would read as an IANA ifType
    }
    default = parse_output(OUTPUT)
    assert default is not None
    assert set(default.interfaces) == {"eth0", "veth1a2b", "wg0", "sit0"}
    chosen = InterfaceSelection(exclude=["^veth"], skip_types=["softwareLoopback", "tunnel"])
    sample = parse_output(OUTPUT, interfaces=chosen)
    assert sample is not None and set(sample.interfaces) == {"eth0"}
    nothing = parse_output(OUTPUT, interfaces=InterfaceSelection(include=["^bond"]))
    assert nothing is not None and not nothing.interfaces
    assert "net_*_bytes_per_sec: the job's selection leaves out all 5 interfaces" in (
        nothing.problems
    )


def test_ssh_disks_by_mount_and_proc_mounts_type_after_mounts() -> None:
    default = parse_output(OUTPUT)
    assert default is not None and set(default.disks) == {"/", "/data", "/boot/efi"}
    no_vfat = parse_output(OUTPUT, disks=DiskSelection(skip_types=["vfat"]))
    assert no_vfat is not None and set(no_vfat.disks) == {"/", "/data"}
    # mounts brings /run/netns in (it is under /run), disks takes it out again
    netns = parse_output(OUTPUT, ["/", "/run/*"], disks=DiskSelection(exclude=["^/run/netns$"]))
    assert netns is not None and set(netns.disks) == {"/"}
    assert set(parse_output(OUTPUT, ["/", "/run/*"]).disks) == {"/", "/run/netns"}  # type: ignore[union-attr]


def test_the_script_reads_interface_types_from_sysfs(tmp_path: Path) -> None:
    """The shell part, run by this machine's sh on a fake /sys/class/net."""
    for name, arphrd in (("lo", "772"), ("eth0", "1"), ("gre0", "778")):
        (tmp_path / "net" / name).mkdir(parents=True)
        (tmp_path / "net" / name / "type").write_text(arphrd + "\n")
    (tmp_path / "net" / "odd").mkdir()  # no type file: left untyped
    command = POLL_COMMAND.replace("/sys/class/", f"{tmp_path}/")
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    iftype = done.stdout.split("@@netgauge iftype\n", 1)[1].split("@@netgauge", 1)[0]
    assert parse_if_types(iftype) == {
        "lo": "softwareLoopback",
        "eth0": "ethernetCsmacd",
        "gre0": "tunnel",
    }


# -- WinRM: names as Windows gives them ------------------------------------------------------


def test_winrm_disks_by_device_id_and_file_system() -> None:
    rows: list[Row] = [
        {"DeviceID": d, "DriveType": "3", "Size": "100", "FreeSpace": "25", "FileSystem": fs}
        for d, fs in (("C:", "NTFS"), ("D:", "ReFS"), ("E:", "FAT32"))
    ]

    def mounts(disks: DiskSelection) -> set[str]:
        return {m.labels["mount"] for m in disk_metrics(rows, disks)[0]}

    assert mounts(DiskSelection()) == {"C:", "D:", "E:"}
    assert mounts(DiskSelection(skip_types=["FAT32"])) == {"C:", "D:"}
    assert mounts(DiskSelection(include=["^[CD]:"], exclude=["^D"])) == {"C:"}


def test_winrm_interfaces_by_name_with_windows_brackets() -> None:
    rows: list[Row] = [
        {"Name": "Intel[R] Ethernet Connection [7] I219-LM", "BytesReceivedPersec": "1"},
        {"Name": "vEthernet [Default Switch]", "BytesReceivedPersec": "2"},
        {"Name": "isatap.{5A1B}", "BytesReceivedPersec": "3"},
    ]
    chosen = InterfaceSelection(exclude=[r"^vEthernet", r"^isatap\."])
    names = {m.labels["interface"] for m in interface_metrics(rows, chosen)[0]}
    assert names == {"Intel[R] Ethernet Connection [7] I219-LM"}
