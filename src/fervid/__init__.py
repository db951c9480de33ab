"""fervid: video-based facial expression recognition.

Public API::

    from fervid import load_model, load_zero_shot, predict_video
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"  # the single source: pyproject.toml and `fervid --version` read it

from fervid import _moved

_moved.install()  # old module paths (fervid.engine.*, fervid.models.hub) for one release

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers
    from fervid.inference.api import load_model, predict_video


def __getattr__(name):
    # Lazy so that `import fervid` stays cheap and `fervid --help` never imports cv2/av.
    if name in {"load_model", "predict_video"}:
        from fervid.inference import api

        return getattr(api, name)
    if name == "load_zero_shot":
        from fervid.inference import zero_shot

        return zero_shot.load_zero_shot
    raise AttributeError(f"module 'fervid' has no attribute {name!r}")


__all__ = ["__version__", "load_model", "load_zero_shot", "predict_video"]
