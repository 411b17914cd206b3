"""Which mounts are disks: one rule for ``disk_percent`` whatever the protocol.

A disk is a local, writable file system. Left out by default, by SNMP, SSH and the agent
alike:

* pseudo, memory and network file systems by type (tmpfs, cgroup, proc, nsfs, overlay,
  squashfs, nfs…: :data:`NOT_DISKS`), where the protocol tells the type;
* mounts under ``/proc``, ``/sys``, ``/dev`` and ``/run`` (but ``/run/media``, where desktops
  mount removable disks), where it does not (SNMP's hrStorage has no type for a tmpfs);
* read-only mounts (a Juniper's 38 read-only images at 100 % are no alert; a snap's squashfs).

A job's ``mounts`` (shell-style patterns: ``["/", "/data*"]``) selects mounts instead: only
those are reported, and the default rule does not apply to them. A job's ``disks``
(:class:`~netgauge.pollers.selection.DiskSelection`: include/exclude regexes, skip_types)
then applies to what is left either way: a mount is reported when ``mounts`` (or, without
it, the default rule) lets it through **and** ``disks`` keeps it.

``disk_percent`` is df's: used / (used + available), which leaves blocks reserved for root
out. SNMP gives that only through UCD-SNMP's dskTable; HOST-RESOURCES' hrStorage has no
"available", so there it is used / size (a few points lower on ext4's 5 % reserve).
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from netgauge.pollers.selection import DiskSelection

_EVERY_DISK = DiskSelection()

NOT_DISKS = frozenset(
    {
        # pseudo and memory file systems
        "tmpfs", "devtmpfs", "overlay", "squashfs", "none", "shm", "udev", "ramfs",
        "proc", "sysfs", "devpts", "cgroup", "cgroup2", "mqueue", "debugfs", "tracefs",
        "securityfs", "pstore", "bpf", "autofs", "fusectl", "configfs", "hugetlbfs",
        "binfmt_misc", "nsfs", "rpc_pipefs", "efivarfs", "selinuxfs", "fuse.lxcfs",
        "fuse.gvfsd-fuse", "fuse.portal", "devfs", "fdescfs", "linprocfs", "nullfs",
        # read-only images: always 100 % full, which is no alert (squashfs above: snaps)
        "iso9660", "udf",
        # network file systems: not this host's disks (and df -l leaves them out)
        "nfs", "nfs4", "cifs", "smbfs", "smb3", "9p", "ceph", "glusterfs", "afs",
        "fuse.sshfs", "fuse.rclone", "fuse.s3fs",
    }
)  # fmt: skip
"""File system types that are not disks."""

_PSEUDO_ROOTS = ("/proc", "/sys", "/dev", "/run")
_STILL_DISKS = ("/run/media",)


def mount_point(description: str) -> str:
    """The mount point in an hrStorageDescr: Junos writes ``/dev/gpt/var: /var file system,
    mounted on: /.mount/var``; others write the mount point alone."""
    head, found, tail = description.rpartition(", mounted on: ")
    return tail.strip() if found and head else description


def pseudo_mount(mount: str) -> bool:
    """A mount point under /proc, /sys, /dev or /run (not /run/media): never a disk."""

    def under(root: str) -> bool:
        return mount == root or mount.startswith(root + "/")

    return any(map(under, _PSEUDO_ROOTS)) and not any(map(under, _STILL_DISKS))


def is_disk(
    mount: str,
    *,
    fstype: str | None = None,
    read_only: bool = False,
    selected: Sequence[str] = (),
    disks: DiskSelection = _EVERY_DISK,
    label: str | None = None,
) -> bool:
    """Whether ``mount`` is reported as a disk: by the job's ``selected`` patterns (its
    ``mounts``) when it has any, else by the default rule, and then by its ``disks`` (see
    the module docstring), whose regexes are searched in the series' ``mount`` label
    (``label``, when it is not the mount point itself: a Junos hrStorageDescr)."""
    listed = _listed(mount, fstype, read_only, selected)
    return listed and disks.keeps(mount if label is None else label, fstype)


def _listed(mount: str, fstype: str | None, read_only: bool, selected: Sequence[str]) -> bool:
    if selected:
        return any(fnmatchcase(mount, pattern) for pattern in selected)
    if read_only or pseudo_mount(mount):
        return False
    return fstype is None or fstype not in NOT_DISKS
