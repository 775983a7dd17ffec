"""In-child launcher that confines a prover before exec-ing it. Standard library only.

Run as `python -I -S _jail.py CONFIG_JSON -- ARGV...`. It is a separate program rather than a
`preexec_fn` so that no Python code runs between fork and exec in the multithreaded engine.

What it does, each step best-effort unless `strict` is set (then a failed step exits 125):
1. new user namespace (only when not root), then new mount, network and PID namespaces;
2. forks: the child is PID 1 of the new PID namespace and dies with this process, so killing this
   process (or its process group) kills every process the prover started;
3. in the child: every mount read-only, a size-capped private tmpfs on the work directory, a fresh
   /proc; resource limits; all privileges dropped to an unprivileged uid when started as root;
   a scrubbed environment; exec.

Whether the prover was started at all is told structurally: the child holds the write end of a
close-on-exec pipe; exec closes it unread, a failure before exec (a resource limit the machine
will not grant, a missing binary) writes why. The launcher then says so on stderr and exits
EXIT_CANNOT_START, which no prover's own exit can be mistaken for: the exit code is the
launcher's, decided before the prover existed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import sys
import time
import warnings  # noqa: F401 - os.execvpe imports it lazily, after the uid may no longer read the stdlib

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
SYS_MOUNT_SETATTR = 442  # the same number on every architecture since Linux 5.12
PR_SET_PDEATHSIG = 1
EXIT_SETUP = 125
EXIT_CANNOT_START = 126  # the prover was never exec'd; stderr says why
_EXEC_RETRIES = 50  # 5 s for a slot's previous prover to be released

_libc = ctypes.CDLL(None, use_errno=True)


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _enter_namespaces(cfg: dict, report: dict) -> None:
    flags = CLONE_NEWNS | CLONE_NEWPID
    if not cfg["network"]:
        flags |= CLONE_NEWNET
    uid, gid = os.getuid(), os.getgid()
    if uid != 0:
        flags |= CLONE_NEWUSER
    _check(_libc.unshare(flags), "unshare")
    if uid != 0:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    report["namespaces"] = True
    report["network_isolated"] = not cfg["network"]


def _confine_filesystem(workdir: str, tmpfs_mb: int, uid: int | None, report: dict) -> None:
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, MS_PRIVATE, 0)
    syscall = _libc.syscall
    syscall.restype = ctypes.c_long
    ret = syscall(
        SYS_MOUNT_SETATTR, -100, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    _check(ret, "read-only remount")
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    opts = f"size={tmpfs_mb}m,mode=0700{owner}".encode()
    _check(_libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts), "tmpfs")
    report["filesystem_readonly"] = True
    with contextlib.suppress(OSError):
        _check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV, None), "proc")


def _set_limits(cfg: dict) -> None:
    mib = 1024 * 1024
    limits = {
        "RLIMIT_AS": cfg["memory_mb"] and cfg["memory_mb"] * mib,
        "RLIMIT_CPU": cfg["cpu_s"],
        "RLIMIT_NOFILE": cfg["nofile"],
        "RLIMIT_NPROC": cfg["nproc"],
        "RLIMIT_FSIZE": cfg["fsize_mb"] and cfg["fsize_mb"] * mib,
        "RLIMIT_CORE": 0,
    }
    for name, value in limits.items():
        if value is None:
            continue
        which = getattr(resource, name)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError) as e:
            hard = resource.getrlimit(which)[1]
            raise OSError(
                f"{name} {value} is needed, but the hard limit here is {hard} ({e}); raise it"
                " (ulimit) or lower the sandbox's limit"
            ) from e


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _child(cfg: dict, argv: list[str], report: dict) -> None:
    """Becomes the prover: PID 1 of the new namespace when there is one."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    workdir = cfg["workdir"]
    uid = cfg["uid"] if os.getuid() == 0 else None  # None: keep the caller's uid
    if report.get("namespaces"):
        try:
            _confine_filesystem(workdir, cfg["tmpfs_mb"], uid, report)
        except OSError as e:
            if cfg["strict"]:
                raise
            report["filesystem_error"] = str(e)
    elif uid is not None:
        os.chown(workdir, uid, uid)
    os.chdir(workdir)
    _set_limits(cfg)
    if uid is not None:
        _drop_privileges(uid)
        report["uid"] = uid
    if cfg["report"]:
        print(json.dumps(report), flush=True)
        os._exit(0)
    env = dict(cfg["env"], HOME=workdir, TMPDIR=workdir)
    _exec(argv, env)


def _exec(argv: list[str], env: dict[str, str]) -> None:
    """exec, waiting out a slot's previous prover: until the kernel has released it, the uid is
    at its process limit and execve answers EAGAIN (an engine closed and opened again at once)."""
    for _ in range(_EXEC_RETRIES):
        try:
            os.execvpe(argv[0], argv, env)
        except BlockingIOError:
            time.sleep(0.1)
    os.execvpe(argv[0], argv, env)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1 :]
    report: dict = {"namespaces": False, "network_isolated": False, "filesystem_readonly": False}
    try:
        _enter_namespaces(cfg, report)
    except OSError as e:
        if cfg["strict"]:
            print(f"leanfilter sandbox: {e}", file=sys.stderr)
            sys.exit(EXIT_SETUP)
        report["namespace_error"] = str(e)
    started_r, started_w = os.pipe()  # both close-on-exec
    pid = os.fork()
    if pid == 0:
        os.close(started_r)
        try:
            _child(cfg, argv, report)
        except Exception as e:  # the child must never return into the launcher's code
            os.write(started_w, str(e).encode(errors="replace")[:4000])
            os._exit(EXIT_SETUP)
    os.close(started_w)
    failure = _read_all(started_r)
    if failure:
        os.waitpid(pid, 0)
        print(f"leanfilter sandbox: the prover cannot start: {failure}", file=sys.stderr)
        sys.exit(EXIT_CANNOT_START)
    for fd in (0, 1):
        os.close(fd)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace").strip()


if __name__ == "__main__":
    main()
