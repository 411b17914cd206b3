"""One rule for which mounts are disks, whatever the protocol; /proc/mounts as SSH reads it."""

from __future__ import annotations

from netgauge.pollers.filesystems import is_disk, mount_point, pseudo_mount
from netgauge.pollers.ssh import parse_mounts

# /proc/mounts lines as a Debian host with snaps, a container runtime and a USB stick shows them
PROC_MOUNTS = """\
/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
nsfs /run/netns/lab nsfs rw 0 0
/dev/loop3 /snap/core22/1380 squashfs ro,nodev,relatime 0 0
/dev/sdb1 /run/media/ann/My\\040Stick vfat rw,nosuid,nodev,relatime 0 0
/dev/sdc1 /srv/archive xfs ro,relatime 0 0
/dev/sdd1 /data ext4 rw,relatime 0 0
"""


def test_proc_mounts_are_parsed_with_their_escapes() -> None:
    mounts = parse_mounts(PROC_MOUNTS)
    assert mounts["/run/media/ann/My Stick"] == ("vfat", False)
    assert mounts["/srv/archive"] == ("xfs", True)
    assert mounts["/"] == ("ext4", False)  # errors=remount-ro is not "ro"


def test_the_default_rule_keeps_local_writable_file_systems_only() -> None:
    mounts = parse_mounts(PROC_MOUNTS)
    kept = {m for m, (fstype, ro) in mounts.items() if is_disk(m, fstype=fstype, read_only=ro)}
    assert kept == {"/", "/data", "/run/media/ann/My Stick"}


def test_without_a_type_the_mount_point_decides() -> None:
    # SNMP's hrStorage: no type; a tmpfs at /dev/shm and /run/netns are fixed disks there
    assert not is_disk("/dev/shm") and not is_disk("/run/netns") and not is_disk("/sys/fs/cgroup")
    assert is_disk("/") and is_disk("C:\\\\ Label:OS  Serial Number 1a2b3c4d")
    assert pseudo_mount("/run") and not pseudo_mount("/running") and not pseudo_mount("/devices")


def test_a_job_selects_mounts_read_only_and_pseudo_ones_included() -> None:
    assert is_disk("/srv/archive", fstype="xfs", read_only=True, selected=["/srv/*"])
    assert is_disk("/dev/shm", fstype="tmpfs", selected=["/dev/shm"])
    assert not is_disk("/", fstype="ext4", selected=["/data*"])


def test_junos_storage_descriptions_name_their_mount_point() -> None:
    descr = "/dev/gpt/var: /var file system, mounted on: /.mount/var"
    assert mount_point(descr) == "/.mount/var" and is_disk(mount_point(descr))
    assert not is_disk(mount_point("procfs: process file system, mounted on: /proc"))
    assert mount_point("/srv/data") == "/srv/data"
