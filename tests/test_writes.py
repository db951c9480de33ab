"""One line for a refused write: the path, what was written, the problem, the free space."""

from __future__ import annotations

import errno
import re

import pytest

from fervid.cli import main
from fervid.writes import WriteFailed, os_error_line, writing


def test_line_names_path_what_problem_and_free_space(tmp_path):
    line = os_error_line(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "run" / "x.json", "results")
    assert re.fullmatch(
        rf"cannot write {tmp_path / 'run' / 'x.json'} \(results\): no space left on the device; "
        r"[\d.]+ (B|KiB|MiB|GiB) free of [\d.]+ (B|KiB|MiB|GiB) there; free some space and run the "
        r"command again",
        line,
    )
    quota = os_error_line(OSError(errno.EDQUOT, "Disk quota exceeded", str(tmp_path / "f")))
    assert quota.startswith(f"cannot write {tmp_path / 'f'}: disk quota exceeded; ")
    read_only = os_error_line(OSError(errno.EROFS, "Read-only file system"), "/x")
    assert read_only == "cannot write /x: read-only file system"
    # caught far from its cause (fervid.cli): a permission error may have been a read
    assert os_error_line(PermissionError(errno.EACCES, "Permission denied", "/etc/x")) == "/etc/x: permission denied"


def test_writing_converts_only_write_errors(tmp_path):
    with pytest.raises(WriteFailed, match="permission denied"), writing("a plot", tmp_path / "a.png"):
        raise PermissionError(errno.EACCES, "Permission denied")
    with pytest.raises(FileNotFoundError), writing("a plot", tmp_path / "a.png"):
        raise FileNotFoundError(errno.ENOENT, "No such file")


def test_cli_turns_stray_write_errors_into_one_line(tmp_path, capsys, monkeypatch):
    """A write outside fervid.writes (a library's own file, a writer thread) still ends in one line."""
    import threading

    from fervid.results import report

    def full(run_dir, **_):
        writer = threading.Thread(target=thread_full, name="writer")
        writer.start()
        writer.join()
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "results.json"))

    def thread_full():
        raise OSError(errno.EDQUOT, "Disk quota exceeded", str(tmp_path / "events"))

    monkeypatch.setattr(report, "write_report", full)
    assert main(["report", str(tmp_path)]) == 2
    thread_line, line = capsys.readouterr().err.strip().splitlines()
    assert thread_line.startswith(f"fervid report: error: cannot write {tmp_path / 'events'}: disk quota exceeded; ")
    assert thread_line.endswith("(in thread writer)")
    assert line.startswith(f"fervid report: error: cannot write {tmp_path / 'results.json'}: no space left on ")
