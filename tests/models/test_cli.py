"""`fervid models` and `fervid profile` through the command-line entry point."""

import json

import pytest

from fervid.cli import main


def test_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("c3d", "cnn_lstm", "r2plus1d", "timesformer", "tsm", "vivit"):
        assert f"\n{name} " in out
    assert "16x112" in out and "8x224" in out
    assert main(["models", "--json"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["r2plus1d"]["params_6_classes"] == 31_303_203


@pytest.mark.slow  # measures latency and memory
def test_profile_measures_a_tiny_clip_as_json(capsys):
    code = main(["profile", "--models", "c3d", "--frames", "8", "--size", "32", "--repeats", "2", "--json"])
    assert code == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["model"], row["num_frames"], row["image_size"], row["batch"]) == ("c3d", 8, 32, 1)
    assert row["params"] > 0 and row["gmacs_per_clip"] > 0
    assert row["latency_ms"] > 0 and row["clips_per_s"] == pytest.approx(1e3 / row["latency_ms"])
    assert row["peak_mem_mb"] >= 0 and row["memory_method"]


def test_profile_reports_a_model_that_cannot_take_the_size_and_goes_on(capsys):
    code = main(["profile", "--models", "c3d,tsm", "--frames", "2", "--size", "32", "--no-timing"])
    out = capsys.readouterr().out
    assert code == 2
    assert "c3d" in out and "error: c3d: a clip of 2 frames" in out
    assert "\ntsm " in out and "2x32" in out


def test_profile_unknown_model_is_a_one_line_error(capsys):
    assert main(["profile", "--models", "c3d,nope", "--no-timing"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_help_does_not_import_torch():
    # `fervid --help` should answer at once; importing torch takes seconds.
    import subprocess
    import sys

    probe = (
        "import sys, contextlib, io\n"
        "from fervid.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
