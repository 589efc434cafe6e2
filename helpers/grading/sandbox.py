"""A sandbox for a grading kernel: folders it cannot see, its own processes only.

``command(hide, keep, keep_rw)`` is an argv prefix that runs a command in new Linux user,
mount and pid namespaces (``unshare``; no root needed where unprivileged user namespaces are
allowed). Inside, this file runs as a script (standard library only: it is run by path, not
imported from ``helpers``): it mounts an empty tmpfs over each hidden folder, binds the kept
paths inside them back (``keep`` read-only, ``keep_rw`` writable), locks these mounts (a second
user and mount namespace: the kernel locks mounts inherited into a less privileged namespace,
so the sandboxed code cannot unmount the tmpfs to see what is under it), then executes the
command. That command is pid 1 of the new pid namespace: it sees only its own descendants in
``/proc``, and when the outer ``unshare`` is killed (SIGKILL) everything inside dies with it.

``kernel_manager(...)`` is a jupyter_client kernel manager whose kernels start in the sandbox
(for ``nbclient.NotebookClient(nb, km=...)``); ``available()`` says whether it works here.

Only visibility is confined: the sandboxed code keeps the user it ran as (root here, as mapped
root) and what it may write outside the hidden folders, the network, and the resource limits;
what it writes in a hidden folder goes to the tmpfs (1 MiB) and is gone afterwards. As pid 1
the command ignores signals it has no handler for (an ipykernel handles SIGINT, so interrupts
work; SIGTERM does nothing, and ``unshare`` blocks SIGINT and SIGTERM: SIGKILL ends it) and
inherits orphaned processes, which stay zombies until it exits.
"""

from __future__ import annotations

import ctypes
import functools
import os
import stat
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # not imported at run time: this file also runs as a script
    from jupyter_client.manager import AsyncKernelManager

StrPath = str | os.PathLike[str]

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000

_UNSHARE = ["--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child",
            "--mount-proc"]


def command(hide: Sequence[StrPath], keep: Sequence[StrPath] = (),
            keep_rw: Sequence[StrPath] = ()) -> list[str]:
    """The argv prefix (the command to sandbox follows it): ``hide`` folders look empty inside
    except for the ``keep`` paths in them (read-only) and the ``keep_rw`` ones (writable).
    Paths are resolved here, in the caller's working directory."""
    import shutil

    args = [shutil.which("unshare") or "unshare", *_UNSHARE, "--",
            sys.executable, "-I", "-S", os.path.realpath(__file__)]
    for flag, paths in (("--hide", hide), ("--keep", keep), ("--keep-rw", keep_rw)):
        for path in paths:
            args += [flag, os.path.realpath(path)]
    return [*args, "--"]


@functools.cache
def available() -> str | None:
    """None when the sandbox works here (tried once: a hidden file, a kept one), else one line
    saying why not."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux namespaces; this is {sys.platform}"
    import shutil
    import subprocess
    import tempfile

    if shutil.which("unshare") is None:
        return "no unshare command (util-linux) on PATH"
    probe = ("import os, sys; d = sys.argv[1]; "
             "sys.exit(0 if os.listdir(d) == ['kept'] and os.getpid() == 1 "
             "and open(d + '/kept/file').read() == 'kept' else 3)")
    with tempfile.TemporaryDirectory() as tmp:
        hidden = os.path.join(tmp, "hidden")
        os.makedirs(os.path.join(hidden, "kept"))
        for name, text in (("secret", "secret"), ("kept/file", "kept")):
            with open(os.path.join(hidden, name), "w") as file:
                file.write(text)
        try:
            proc = subprocess.run(
                [*command([hidden], [os.path.join(hidden, "kept")]), sys.executable, "-I", "-S",
                 "-c", probe, hidden], capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"the sandbox did not run: {err}"
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    if proc.returncode == 3:
        return "the sandbox runs but does not hide a folder here"
    return ("the sandbox does not start here (user namespaces or mounts refused?): "
            + (lines[-1] if lines else f"exit status {proc.returncode}"))


def kernel_manager_class(hide: Sequence[StrPath], keep: Sequence[StrPath] = (),
                         keep_rw: Sequence[StrPath] = ()) -> type[AsyncKernelManager]:
    """An ``AsyncKernelManager`` subclass whose kernels start in the sandbox of
    ``command(hide, keep, keep_rw)`` (the kernel's connection file kept too): for
    ``nbclient.NotebookClient(nb, kernel_manager_class=...)``, which then owns the kernel and
    shuts it down after ``setup_kernel``/``execute``, as with its default class."""
    from jupyter_client.manager import AsyncKernelManager

    def format_kernel_cmd(self: AsyncKernelManager,
                          extra_arguments: list[str] | None = None) -> list[str]:
        kept = [*keep, self.connection_file] if self.connection_file else keep
        return (command(hide, kept, keep_rw)
                + AsyncKernelManager.format_kernel_cmd(self, extra_arguments))

    return type("SandboxedKernelManager", (AsyncKernelManager,), {
        "__doc__": "Starts its kernels in a sandbox (helpers.grading.sandbox).",
        "__module__": __name__, "format_kernel_cmd": format_kernel_cmd})


def kernel_manager(hide: Sequence[StrPath], keep: Sequence[StrPath] = (),
                   keep_rw: Sequence[StrPath] = (), **kwargs: Any) -> AsyncKernelManager:
    """An instance of ``kernel_manager_class(hide, keep, keep_rw)`` (``kwargs`` as
    ``AsyncKernelManager`` takes them, e.g. ``kernel_name="python3"``), for
    ``nbclient.NotebookClient(nb, km=...)``. nbclient does not shut down a kernel it was given:
    pass ``cleanup_kc=True`` to ``setup_kernel`` (or shut it down yourself)."""
    return kernel_manager_class(hide, keep, keep_rw)(**kwargs)


# What follows runs inside the namespaces (``python sandbox.py ...``), as mapped root.

def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    def c(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    if libc.mount(c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data)) != 0:
        errno = ctypes.get_errno()
        what = fstype or ("bind" if flags & MS_BIND and source else "remount read-only")
        raise OSError(errno, f"mount ({what}): {os.strerror(errno)}", target)


def _flags(path: str) -> int:
    """The mount flags of ``path``'s mount other than read-only, for a remount to keep."""
    have = os.statvfs(path).f_flag
    flags = sum(flag for st, flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
                                      (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME),
                                      (os.ST_NODIRATIME, MS_NODIRATIME),
                                      (os.ST_RELATIME, MS_RELATIME)) if have & st)
    return flags if have & (os.ST_NOATIME | os.ST_RELATIME) else flags | MS_STRICTATIME


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def parse(argv: Sequence[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """``[--hide DIR]... [--keep PATH]... [--keep-rw PATH]... -- COMMAND...``: the hidden
    folders, the kept paths (read-only, writable) and the command."""
    found: dict[str, list[str]] = {"--hide": [], "--keep": [], "--keep-rw": []}
    args = list(argv)
    while args and args[0] != "--":
        if args[0] not in found or len(args) < 2:
            raise SystemExit(f"sandbox: usage: {os.path.basename(__file__)} [--hide DIR]... "
                             "[--keep PATH]... [--keep-rw PATH]... -- COMMAND...")
        found[args[0]].append(os.path.realpath(args[1]))
        args = args[2:]
    if len(args) < 2:
        raise SystemExit("sandbox: no command after --")
    return found["--hide"], found["--keep"], found["--keep-rw"], args[1:]


def setup(hide: Sequence[str], keep: Sequence[str], keep_rw: Sequence[str]) -> None:
    """In a mount namespace of one's own, as its root: a tmpfs over each of ``hide`` (one that
    does not exist is skipped), the kept paths in them bound back, all mounts locked, and the
    working directory entered again by its path."""
    libc = _libc()
    cwd = os.getcwd()
    kept = {**{path: True for path in keep}, **{path: False for path in keep_rw}}
    fds = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in kept}  # before hiding
    folders: list[str] = []
    for folder in sorted(set(hide), key=len):  # not one inside a folder already hidden
        if os.path.lexists(folder) and not any(_inside(folder, f) for f in folders):
            _mount(libc, "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
            folders.append(folder)
    for path in sorted(kept, key=lambda p: p.count("/")):  # outer ones first
        if not any(_inside(path, f) for f in folders):
            continue
        if stat.S_ISDIR(os.fstat(fds[path]).st_mode):
            os.makedirs(path, exist_ok=True)
        elif not os.path.lexists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        _mount(libc, f"/proc/self/fd/{fds[path]}", path, None, MS_BIND | MS_REC)
        if kept[path]:  # the flags it has (locked ones must stay), read-only
            _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _flags(path))
    for fd in fds.values():
        os.close(fd)
    lock(libc)
    try:  # by its path: a working directory in a hidden folder would still show what is in it
        os.chdir(cwd)
    except OSError as err:
        raise OSError(err.errno, "the working directory is hidden", cwd) from None


def lock(libc: ctypes.CDLL | None = None) -> None:
    """Lock the mounts: move into a new user and mount namespace (mapping root to root), so
    that the mounts are inherited into a less privileged namespace and cannot be undone."""
    libc = libc or _libc()
    if libc.unshare(ctypes.c_int(CLONE_NEWUSER | CLONE_NEWNS)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare a user and mount namespace: {os.strerror(errno)}")
    for name, text in (("setgroups", "deny"), ("uid_map", "0 0 1"), ("gid_map", "0 0 1")):
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)


def _init_user_namespace() -> bool:
    with open("/proc/self/uid_map") as file:
        return file.read().split() == ["0", "0", "4294967295"]


def main(argv: Sequence[str]) -> NoReturn:
    """Run as ``sandbox.py [--hide DIR]... [--keep PATH]... [--keep-rw PATH]... -- COMMAND...``
    inside the namespaces: hide, keep, lock, then execute the command."""
    hide, keep, keep_rw, cmd = parse(argv)
    if os.getpid() != 1 or _init_user_namespace():  # would mount over the host's folders
        raise SystemExit("sandbox: run me through command(): as pid 1 of new namespaces")
    try:
        setup(hide, keep, keep_rw)
        os.execvp(cmd[0], cmd)
    except OSError as err:
        raise SystemExit(f"sandbox: {err}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
