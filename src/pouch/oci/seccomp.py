"""The seccomp filter a container runs under unless it is privileged or unconfined.

Capabilities already keep most dangerous calls from a container's root, but a few
doors stay open without them: new user namespaces (in which the process holds every
capability again, against kernel code that was never meant for it), the kernel
keyring (not namespaced), userfaultfd, and calls whose capability the user may
add back. The filter allows everything else, and answers the calls below with
EPERM, so programs see an ordinary refusal:

- always: the keyring calls, and the old calls that have no use in a container;
- unless the container holds the capability that governs them, the calls of that
  capability (adding SYS_ADMIN, say, gives back mount and namespaces);
- without SYS_ADMIN, ``clone`` with any namespace flag, ``unshare`` and ``setns``;
  ``clone3`` answers ENOSYS, since a filter cannot read the flags it is given, and
  the C libraries then fall back to ``clone``.

``--security-opt seccomp=unconfined`` runs without a filter; ``seccomp=<profile>``
(the docker CLI sends the file's JSON) runs under that profile instead.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from typing import Any

EPERM = 1
ENOSYS = 38

ALWAYS_DENIED = (
    "add_key", "keyctl", "request_key",  # the kernel keyring is not namespaced
    "nfsservctl", "vm86", "vm86old", "uselib", "create_module", "get_kernel_syms",
    "query_module", "sysfs", "_sysctl", "ustat",
)  # fmt: skip

# Calls that a capability governs: allowed only when the container holds it.
BY_CAPABILITY: dict[str, tuple[str, ...]] = {
    "CAP_SYS_ADMIN": (
        "mount",
        "umount",
        "umount2",
        "pivot_root",
        "swapon",
        "swapoff",
        "quotactl",
        "lookup_dcookie",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "mount_setattr",
        "setns",
        "unshare",
        "bpf",
        "perf_event_open",
        "fanotify_init",
        "name_to_handle_at",
    ),
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "CAP_SYS_BOOT": ("reboot", "kexec_load", "kexec_file_load"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_adjtime"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_PTRACE": (
        "process_vm_readv",
        "process_vm_writev",
        "kcmp",
        "userfaultfd",
    ),  # fmt: skip
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYSLOG": ("syslog",),
}

# clone's flags that make new namespaces (clone cannot take CLONE_NEWTIME: its bit
# is part of the exit signal there).
NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}

_ARCHITECTURES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}


class SeccompError(ValueError):
    """A ``seccomp=`` security option that is not a usable profile."""


def default_profile(
    capabilities: Iterable[str], machine: str | None = None
) -> dict[str, Any]:
    """The filter for a container with these capabilities, as the spec's
    ``linux.seccomp`` section."""
    held = set(capabilities)
    denied = list(ALWAYS_DENIED)
    for capability, calls in BY_CAPABILITY.items():
        if capability not in held:
            denied += calls
    rules: list[dict[str, Any]] = [
        {"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}
    ]
    if "CAP_SYS_ADMIN" not in held:
        # Any namespace flag set refuses the call: rules for one name are OR'ed.
        for flag in NAMESPACE_FLAGS.values():
            rules.append({
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": EPERM,
                "args": [{"index": 0, "value": flag, "valueTwo": flag,
                          "op": "SCMP_CMP_MASKED_EQ"}],
            })  # fmt: skip
        rules.append(
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}
        )
    profile: dict[str, Any] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}
    architectures = _ARCHITECTURES.get(machine or platform.machine())
    if architectures:
        profile["architectures"] = architectures
    return profile


def custom_profile(text: str) -> dict[str, Any]:
    """A profile given as JSON (``seccomp=<json>``): the OCI section's keys, which
    docker's profile files share (``defaultAction``, ``architectures``,
    ``syscalls`` with ``names``, ``action``, ``args``, ``errnoRet``)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SeccompError(f"invalid seccomp profile: not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("defaultAction"), str):
        raise SeccompError("invalid seccomp profile: defaultAction is required")
    if "archMap" in doc or any(
        isinstance(rule, dict) and ("includes" in rule or "excludes" in rule)
        for rule in doc.get("syscalls") or []
    ):
        raise SeccompError(
            "invalid seccomp profile: archMap, includes and excludes are not "
            "supported; list architectures and the rules that apply"
        )
    section = {
        key: doc[key]
        for key in ("defaultAction", "defaultErrnoRet", "architectures", "syscalls",
                    "flags", "listenerPath", "listenerMetadata")
        if key in doc
    }  # fmt: skip
    for rule in section.get("syscalls") or []:
        if not isinstance(rule, dict) or not isinstance(rule.get("names"), list):
            raise SeccompError("invalid seccomp profile: each rule needs names")
    return section
