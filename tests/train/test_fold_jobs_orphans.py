"""A demo fold worker whose parent is killed exits instead of lingering (fervid.train.fold_jobs)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.slow  # killed process trees

GRANDCHILD = (
    "import sys, time; from fervid.train.fold_jobs import _exit_with; _exit_with(int(sys.argv[1])); time.sleep(60)"
)

PARENT = textwrap.dedent(
    f"""
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", {GRANDCHILD!r}, str(os.getpid())])
    print(child.pid, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_exits_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(1)  # the watcher is running
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":  # exited, not yet reaped
                    break
        except FileNotFoundError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"worker {child} still running 20 s after its parent was killed")
