"""Child processes that end with the detlint process that started them.

Why: when ``detlint check --images decode`` is killed (SIGKILL from a CI timeout or the OOM
killer), nothing runs in it to stop its decode pool. A pool worker then sleeps forever on its
task pipe (it holds both ends of that pipe itself, so it never reads an end of file) and keeps the
parent's stdout and stderr open: the CI step waiting for end of file on them never ends. The COCO
reader's forked slice helper blocks the same way, on a full result pipe.

:func:`bind_to_parent` is the first thing such a child runs (a pool initializer, the helper's
body):

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the child when the thread that
  forked it ends (the pools and the helper are started from the thread that waits for them, so
  that is when the parent dies). SIGKILL because the child holds nothing to clean up and a
  blocked one must not be able to ignore it;
- then a check that the parent is still there, for the parent that died before the prctl (the
  child was reparented, and no signal will come);
- and fd 1 pointed at ``/dev/null``: stdout carries only the chosen report, which a child never
  writes, so the child holds no reference to the pipe a CI step reads. stderr is kept: a crash
  message from a child (``Fatal Python error``, a C library's abort) is a real error to see, and
  with the parent-death signal the child no longer outlives the parent to hold it open.

Elsewhere (macOS, Windows) the check and the stdout redirection still apply; there is no
parent-death signal.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

log = logging.getLogger("detlint")

__all__ = ["bind_to_parent"]

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def bind_to_parent(parent_pid: int) -> None:
    """Make this child process end when ``parent_pid`` (the process that started it) does."""
    _set_parent_death_signal()
    if not _parent_alive(parent_pid):
        os._exit(1)  # the parent is gone: nobody waits for this child's work
    _release_stdout()


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as error:  # no libc to load, no prctl in it
        log.debug("no parent-death signal (%s)", error)


def _parent_alive(parent_pid: int) -> bool:
    """Whether the starting process still runs. Under ``fork`` it is the parent, and a different
    parent means it died and this child was reparented; under ``forkserver`` the parent is the
    fork server, so the starting process is looked up itself."""
    if os.getppid() == parent_pid:
        return True
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else: a reused pid cannot be told apart
        return True
    return not _is_zombie(parent_pid)  # killed, not yet reaped by its own parent (the CI runner)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:  # no /proc (not Linux), or gone meanwhile
        return False
    return bool(fields) and fields[0] in (b"Z", b"X")


def _release_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, 1)
    except OSError:
        pass
    finally:
        os.close(devnull)
