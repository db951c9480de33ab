"""Run-directory locks: a live holder refuses, a dead one on this host is taken over with a note,
one on another host is refused with what to delete; re-entrant within a process."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

import pytest

from fervid.rundir.lock import (
    LOCK_NAME,
    RunBusy,
    fold_lock,
    lock_dir,
    run_files_lock,
)

HOLD = """
import sys, time
from pathlib import Path
from fervid.rundir.lock import lock_dir
with lock_dir(sys.argv[1]):
    Path(sys.argv[2]).touch()
    time.sleep(60)
"""


def record(path, **kw):
    rec = {"pid": 1, "host": socket.gethostname(), "started": "2026-11-30T08:00:00+00:00", "command": "fervid train x"}
    path.write_text(json.dumps({**rec, **kw}))


def test_live_holder_refuses_and_is_named(tmp_path):
    ready = tmp_path / "ready"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "run"), str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        with (
            pytest.raises(RunBusy, match=rf"{tmp_path / 'run'} is in use by pid {holder.pid} on host "),
            fold_lock(tmp_path / "run"),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with fold_lock(tmp_path / "run"):  # the kernel dropped the dead holder's flock: a note, then ours
        rec = json.loads((tmp_path / "run" / LOCK_NAME).read_text())
        assert rec["pid"] == os.getpid() and rec["host"] == socket.gethostname()
    assert not (tmp_path / "run" / LOCK_NAME).exists()  # released: removed


def test_dead_holder_on_this_host_is_taken_over_with_a_note(tmp_path, caplog):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    (tmp_path / "fold_00").mkdir()
    record(tmp_path / "fold_00" / LOCK_NAME, pid=int(gone.stdout))
    with caplog.at_level(logging.WARNING), fold_lock(tmp_path / "fold_00"):
        pass
    (note,) = [r.getMessage() for r in caplog.records]
    assert note.startswith(f"note: {tmp_path / 'fold_00' / LOCK_NAME}: took over the lock of pid {gone.stdout.strip()}")
    assert note.endswith("which is no longer running")


def test_a_record_from_another_host_is_refused_with_what_to_delete(tmp_path):
    record(tmp_path / LOCK_NAME, host="gpu-node-17")
    refused = (
        r"locked by pid 1 on host gpu-node-17 .*on another machine.*"
        rf"delete {tmp_path / LOCK_NAME} and run the command again"
    )
    with pytest.raises(RunBusy, match=refused), lock_dir(tmp_path):
        pass
    assert "gpu-node-17" in (tmp_path / LOCK_NAME).read_text()  # left as it was


def test_reentrant_within_a_process_and_run_files_lock_waits_only_for_existing_runs(tmp_path):
    with run_files_lock(tmp_path), run_files_lock(tmp_path):  # report written by train: same process
        assert (tmp_path / LOCK_NAME).exists()
    assert not (tmp_path / LOCK_NAME).exists()
    with run_files_lock(tmp_path / "no-such-run"):  # `fervid report` of a missing run: no folder made
        pass
    assert not (tmp_path / "no-such-run").exists()
