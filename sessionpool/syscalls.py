"""System call numbers per architecture, for the seccomp filter and the calls Python lacks.

Written out here rather than read from libseccomp at run time, so that the pool needs nothing
installed; tests/sessionpool/test_seccomp.py checks every number against libseccomp's tables.
"""

# The audit architecture the kernel reports to a filter, per `platform.machine()`.
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# fmt: off
NUMBERS = {
    "x86_64": {
        "_sysctl": 156, "acct": 163, "add_key": 248, "adjtimex": 159, "bpf": 321,
        "capset": 126, "chroot": 161, "clock_adjtime": 305, "clock_settime": 227, "clone": 56,
        "clone3": 435, "connect": 42, "create_module": 174, "delete_module": 176,
        "fanotify_init": 300, "finit_module": 313, "fsconfig": 431, "fsmount": 432,
        "fsopen": 430, "fspick": 433, "get_kernel_syms": 177, "init_module": 175,
        "inotify_init": 253, "inotify_init1": 294, "io_uring_enter": 426,
        "io_uring_register": 427, "io_uring_setup": 425, "ioperm": 173, "iopl": 172,
        "kcmp": 312, "kexec_file_load": 320, "kexec_load": 246, "keyctl": 250,
        "lookup_dcookie": 212, "mount": 165, "mount_setattr": 442, "move_mount": 429,
        "name_to_handle_at": 303, "nfsservctl": 180, "open_by_handle_at": 304,
        "open_tree": 428, "perf_event_open": 298, "pidfd_getfd": 438, "pivot_root": 155,
        "process_vm_readv": 310, "process_vm_writev": 311, "ptrace": 101, "query_module": 178,
        "quotactl": 179, "quotactl_fd": 443, "reboot": 169, "request_key": 249,
        "setdomainname": 171, "sethostname": 170, "setns": 308, "settimeofday": 164,
        "socket": 41, "socketpair": 53, "swapoff": 168, "swapon": 167, "sysfs": 139,
        "syslog": 103, "umount2": 166, "unshare": 272, "userfaultfd": 323, "ustat": 136,
        "vhangup": 153,
    },
    # The generic table: no ustat, sysfs, _sysctl, iopl, ioperm, inotify_init or the old
    # module calls at all.
    "aarch64": {
        "acct": 89, "add_key": 217, "adjtimex": 171, "bpf": 280, "capset": 91, "chroot": 51,
        "clock_adjtime": 266, "clock_settime": 112, "clone": 220, "clone3": 435,
        "connect": 203, "delete_module": 106, "fanotify_init": 262, "finit_module": 273,
        "fsconfig": 431, "fsmount": 432, "fsopen": 430, "fspick": 433, "init_module": 105,
        "inotify_init1": 26, "io_uring_enter": 426, "io_uring_register": 427,
        "io_uring_setup": 425, "kcmp": 272, "kexec_file_load": 294, "kexec_load": 104,
        "keyctl": 219, "lookup_dcookie": 18, "mount": 40, "mount_setattr": 442,
        "move_mount": 429, "name_to_handle_at": 264, "nfsservctl": 42,
        "open_by_handle_at": 265, "open_tree": 428, "perf_event_open": 241,
        "pidfd_getfd": 438, "pivot_root": 41, "process_vm_readv": 270,
        "process_vm_writev": 271, "ptrace": 117, "quotactl": 60, "quotactl_fd": 443,
        "reboot": 142, "request_key": 218, "setdomainname": 162, "sethostname": 161,
        "setns": 268, "settimeofday": 170, "socket": 198, "socketpair": 199, "swapoff": 225,
        "swapon": 224, "syslog": 116, "umount2": 39, "unshare": 97, "userfaultfd": 282,
        "vhangup": 58,
    },
}
# fmt: on
