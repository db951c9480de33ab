"""Canonical expression class names.

Datasets spell and number their classes differently; fervid matches them by name to
these canonical names so that results across datasets line up.
"""

from fervid.errors import FervidError

# The six basic emotions, in the order used by Oulu-CASIA's folder names.
BASIC6 = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")

_ALIASES = {
    "anger": "anger",
    "angry": "anger",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "happiness": "happiness",
    "happy": "happiness",
    "joy": "happiness",
    "sadness": "sadness",
    "sad": "sadness",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "contempt": "contempt",
    "contemptuous": "contempt",
    # MAFW's four further single-label classes
    "anxiety": "anxiety",
    "anxious": "anxiety",
    "helplessness": "helplessness",
    "helpless": "helplessness",
    "disappointment": "disappointment",
    "disappointed": "disappointment",
}


def canonical(name: str) -> str:
    """Map a dataset's class name (any case, common synonyms) to fervid's canonical name.

    Unknown names are returned lower-cased, so datasets with extra classes still work; they
    simply match no other dataset.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if not key:
        raise FervidError("empty class name")
    return _ALIASES.get(key, key)
