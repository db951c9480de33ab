"""Headless Chromium for the HTML tests: found on the machine, installed with apt as root, or skipped
with the reason. One browser serves the whole session; each page opens in a new tab."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _find() -> str | None:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def find_or_install_chromium() -> str:
    found = _find()
    if found:
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            "no Chromium found (chromium, chromium-browser, google-chrome) and cannot install it here "
            "(needs root and apt-get); install Debian's chromium package to run the browser tests"
        )
    try:
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
            subprocess.run(
                cmd,
                check=True,
                capture_output=True,
                timeout=600,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(
            f"no Chromium found and `apt-get install chromium` failed ({type(e).__name__}); "
            "install Debian's chromium package to run the browser tests"
        )
    found = _find()
    if not found:
        pytest.skip("apt-get installed chromium but no chromium executable is on PATH")
    return found


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from cdp import Browser

    b = Browser(find_or_install_chromium(), tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()
