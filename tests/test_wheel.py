"""The sdist and wheel as users get them: built offline, the wheel installed on its own into a
fresh virtual environment (its dependencies reused from this one, nothing downloaded), then the
installed ``fervid`` command run from outside the source tree on packaged configs only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import fervid

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(args, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    """(sdist, wheel), the wheel built from the sdist (`python -m build`'s default)."""
    tmp = tmp_path_factory.mktemp("dists")
    tree = tmp / "tree"  # a copy: the build writes egg-info and build/ next to the sources
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, tree / name)
    # --no-isolation: build with this environment's setuptools (the test extra), no download.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", tmp / "dist", tree])
    (sdist,), (wheel,) = (tmp / "dist").glob("*.tar.gz"), (tmp / "dist").glob("*.whl")
    return sdist, wheel


def test_distributions_carry_configs_and_typing_marker(dists):
    sdist, wheel = dists
    configs = sorted(str(p.relative_to(ROOT / "src")) for p in (ROOT / "src/fervid/configs").glob("*/*.yaml"))
    assert len(configs) >= 18  # oulu, ckplus, synth × six models
    assert wheel.name == f"fervid-{fervid.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(f"fervid-{fervid.__version__}.dist-info/METADATA").decode()
    assert set(configs) <= names and "fervid/py.typed" in names
    assert f"fervid-{fervid.__version__}.dist-info/licenses/LICENSE" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    assert f"Version: {fervid.__version__}\n" in meta and "Requires-Python: >=3.10\n" in meta
    requires = [line.split(";")[0] for line in meta.splitlines() if line.startswith("Requires-Dist: ")]
    assert "Requires-Dist: torch>=2.6" in requires and not any("==" in r for r in requires)  # ranges, no pins
    with tarfile.open(sdist) as t:
        members = {m.name.split("/", 1)[1] for m in t.getmembers() if "/" in m.name}
    assert {f"src/{c}" for c in configs} <= members and "src/fervid/py.typed" in members


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory) -> tuple[Path, dict]:
    """A new venv holding only the wheel; this environment's site-packages are plain path
    entries after its own (their .pth files are not run, so an editable fervid stays unseen)."""
    _, wheel = dists
    tmp = tmp_path_factory.mktemp("venv")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", PYTHONNOUSERSITE="1", MPLBACKEND="Agg")
    work = tmp / "work"  # outside the source tree
    work.mkdir()
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
        cwd=work,
        env=env,
    )
    # Only now: pip would take a fervid in the outer environment for this one and skip the wheel.
    inner = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env).stdout.strip()
    outer = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(inner) / "_dependencies_from_outer_env.pth").write_text("".join(f"{p}\n" for p in outer))
    where = _run([python, "-c", "import fervid; print(fervid.__file__)"], cwd=work, env=env).stdout.strip()
    assert Path(where).is_relative_to(Path(inner)), where
    return bindir / "fervid", {"cwd": work, "env": env}


def test_installed_command_version_and_models(installed):
    fervid_cmd, kw = installed
    from fervid.models import list_models

    assert _run([fervid_cmd, "--version"], **kw).stdout == f"fervid {fervid.__version__}\n"
    listing = _run([fervid_cmd, "models"], **kw).stdout
    assert all(name in listing for name in list_models())


def test_installed_pipeline_on_packaged_config(installed):
    """synth → prepare (Haar) → train the packaged synth/c3d, 1 epoch, 2 folds → report."""
    fervid_cmd, kw = installed
    _run([fervid_cmd, "synth", "data", "--subjects", "4", "--frames", "8-10", "--size", "160x120"], **kw)
    _run(
        [
            fervid_cmd,
            "prepare",
            "data",
            "prepared",
            "--format",
            "oulu",
            "--size",
            "48",
            "--margin",
            "0",
            "--workers",
            "1",
            "--quiet",
            "--strict",
        ],
        **kw,
    )
    _run(
        [
            fervid_cmd,
            "train",
            "synth/c3d",
            "--data",
            "prepared",
            "--folds",
            "2",
            "--epochs",
            "1",
            "--val-subjects",
            "0",
            "--run-dir",
            "run",
            "--set",
            "trainer.progress_bar=false",
        ],
        **kw,
    )
    out = _run([fervid_cmd, "report", "run"], **kw).stdout
    results = json.loads((kw["cwd"] / "run" / "results.json").read_text())
    assert results["complete"] and results["model"] == "c3d" and results["n_folds"] == 2
    assert sum(f["n_test"] for f in results["folds"]) == 4 * 6  # every synthetic clip tested once
    assert (kw["cwd"] / "run" / "report.md").is_file() and "report.md" in out
