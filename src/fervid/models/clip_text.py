"""Class prompts for CLIP's text tower: the templates, and CLIP's tokenizer, offline.

Tokenisation is open_clip's ``SimpleTokenizer`` (OpenAI's BPE; its vocabulary file
``bpe_simple_vocab_16e6.txt.gz`` ships inside the open_clip_torch wheel, so nothing is
downloaded). A prompt becomes ``[SOT] tokens [EOT] 0 …`` of ``context_length`` ids; EOT (49407)
is the largest id, which is how the text tower finds it. A prompt too long for the context is
an error, never silently truncated.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import torch

from fervid.classes import canonical
from fervid.errors import FervidError

VOCAB_SIZE = 49408  # CLIP's BPE vocabulary, special tokens included
SOT, EOT = 49406, 49407

# The text head's default templates when trained (``head="text"``, ``n_ctx=0``), filled with the
# dataset's class names, which are nouns; each class is scored against the average of their text
# embeddings (CLIP's prompt ensembling, Radford et al. 2021, sec. 3.1.4). Kept as they were so
# that checkpoints trained with them rebuild the same class embeddings. Zero-shot uses FER_TEMPLATES.
DEFAULT_TEMPLATES = (
    "a photo of a face showing {}.",
    "a close-up photo of a person's face expressing {}.",
    "a face with an expression of {}.",
    "a video frame of a person showing {}.",
)
# CLIP's zero-shot recipe for FER2013 (Radford et al. 2021; the prompt list in openai/CLIP's
# data/prompts.md, also in open_clip's zero-shot metadata): each class named by an adjective, six
# templates, the class embedding the normalised mean of theirs. Zero-shot prediction's default.
FER_TEMPLATES = (
    "a photo of a {} looking face.",
    "a photo of a face showing the emotion: {}.",
    "a photo of a face looking {}.",
    "a face that looks {}.",
    "they look {}.",
    "look at how {} they are.",
)
# fervid's canonical class names -> the adjective the FER templates take (FER2013's seven are the
# recipe's words; contempt and MAFW's four further classes follow the same rule, fervid's wording).
ADJECTIVES = {
    "anger": "angry",
    "disgust": "disgusted",
    "fear": "fearful",
    "happiness": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprise": "surprised",
    "contempt": "contemptuous",
    "anxiety": "anxious",
    "helplessness": "helpless",
    "disappointment": "disappointed",
}
CONTEXT_WORD = "X"  # placeholder for a learnable context token (CoOp, DFER-CLIP): "X X … X {class}."


@lru_cache(maxsize=1)
def _tokenizer():
    """open_clip's ``SimpleTokenizer``, loaded from its own file.

    Importing the ``open_clip`` package runs its ``__init__``, which imports timm and every model
    (about 4 s); ``tokenizer.py`` needs none of that, so it is loaded on its own.
    """
    spec = importlib.util.find_spec("open_clip")
    if spec is None or spec.origin is None:
        raise FervidError(
            "CLIP's text prompts need open_clip_torch (it ships CLIP's tokenizer): "
            "pip install open_clip_torch (or fervid[clip])"
        )
    path = Path(spec.origin).parent / "tokenizer.py"
    module_spec = importlib.util.spec_from_file_location("fervid_open_clip_tokenizer", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.SimpleTokenizer()


def tokenize(texts: list[str], context_length: int, *, n_ctx: int = 0) -> torch.Tensor:
    """CLIP token ids of ``texts``: long ``(len(texts), context_length)``, zero-padded.

    ``n_ctx``: positions ``1 … n_ctx`` must hold one placeholder token each (checked).
    """
    tok = _tokenizer()
    (placeholder,) = tok.encode(CONTEXT_WORD)
    rows = []
    for text in texts:
        ids = [SOT, *tok.encode(text), EOT]
        if len(ids) > context_length:
            raise FervidError(f"prompt {text!r} is {len(ids)} tokens long; the text tower takes {context_length}")
        if ids[1 : 1 + n_ctx] != [placeholder] * n_ctx:
            raise FervidError(f"prompt {text!r}: the {n_ctx} context placeholders did not tokenise to one token each")
        rows.append(ids + [0] * (context_length - len(ids)))
    return torch.tensor(rows, dtype=torch.long)


def expression_word(name: str) -> str:
    """The adjective of a class name fervid knows (``happiness`` -> ``happy``), else the name as given."""
    return ADJECTIVES.get(canonical(name), name.strip())


def class_prompts(class_names: list[str], templates: list[str], n_ctx: int) -> list[str]:
    """The prompts, class-major: ``len(class_names) * len(templates)`` strings, or one per class
    (``"X X … X {class}."``, the X's to be replaced by learned vectors) when ``n_ctx > 0``."""
    if n_ctx:
        return [" ".join([CONTEXT_WORD] * n_ctx) + f" {name}." for name in class_names]
    bad = [t for t in templates if t.count("{}") != 1]
    if bad:
        raise FervidError(f"prompt template {bad[0]!r} must contain exactly one '{{}}' for the class name")
    return [t.format(name) for name in class_names for t in templates]
