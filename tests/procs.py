"""Processes as Linux's /proc shows them, for the tests that check nothing is left behind.

A process is named by its pid and its start time (clock ticks since boot), so a pid reused
by an unrelated process is never taken for the one that ended. A zombie (exited, not yet
reaped) counts as ended.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MARK = "OPTIMIZER_TEST_PROCESS"  # set per test process by conftest.py: every process a test starts inherits it


def stat(pid: int, zombies: bool = False) -> dict | None:
    """state, ppid, session and start time of a process; None once it is gone, or a zombie
    (unless ``zombies``)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) ": the comm may hold spaces
    if fields[0] in "ZXx" and not zombies:
        return None
    return {"state": fields[0], "ppid": int(fields[1]), "session": int(fields[3]), "start": int(fields[19])}


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time a process has used so far, s; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_cpu(pid: int, seconds: float, timeout: float = 120.0) -> float:
    """Wait until a process has used ``seconds`` of CPU (on a loaded machine a fixed sleep may end
    before it has even imported its modules); returns the CPU time reached."""
    deadline = time.monotonic() + timeout
    used = cpu_seconds(pid)
    while used is not None and used < seconds and time.monotonic() < deadline:
        time.sleep(0.05)
        used = cpu_seconds(pid)
    return used or 0.0


def describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = "?"
    st = stat(pid)
    return f"{pid} (parent {st['ppid'] if st else '?'}): {cmd[:200]}"


def children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass  # it just exited
    return out


def descendants(pid: int) -> dict[int, int]:
    """Every process under ``pid`` (children, theirs, ...): pid -> start time."""
    found, todo = {}, [pid]
    while todo:
        for c in children(todo.pop()):
            st = stat(c)
            if st is not None and c not in found:
                found[c] = st["start"]
                todo.append(c)
    return found


def alive(procs: dict[int, int]) -> list[int]:
    """Those of ``procs`` (pid -> start time) still running."""
    return [pid for pid, start in procs.items() if (st := stat(pid)) is not None and st["start"] == start]


def unreaped(procs: dict[int, int]) -> list[int]:
    """Those of ``procs`` still in the process table, running or zombie: a process its own
    parent waited for is gone from it; one still there outlived its parent (re-parented) or was
    never waited for."""
    return [pid for pid, start in procs.items() if (st := stat(pid, zombies=True)) is not None and st["start"] == start]


def in_session(sid: int) -> list[int]:
    """Every live process of a session (a process started with start_new_session leads one;
    what it starts stays in it, even when re-parented to init)."""
    return [pid for pid in _pids() if (st := stat(pid)) is not None and st["session"] == sid and pid != sid]


def marked(token: str) -> list[int]:
    """Every live process but this one whose environment has ``MARK=token``: what this test
    process started, however far down and wherever re-parented."""
    needle = f"{MARK}={token}".encode()
    out = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") and stat(pid) is not None:
                out.append(pid)
        except OSError:
            continue
    return out


def wait_until_empty(find, timeout: float) -> list[int]:
    """Poll ``find()`` (a list of pids) until it is empty or ``timeout`` seconds pass; the last list."""
    deadline = time.monotonic() + timeout
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _pids() -> list[int]:
    return [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()]
