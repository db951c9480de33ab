"""Tiny configurations of every registered model, shared by the model tests.

``TINY[name]`` holds ``create_model`` keyword arguments: the clip size (``num_frames``,
``image_size``) and the builder's hyper-parameters shrunk so a forward/backward pass takes
milliseconds. The zoo test fails for a registered model without an entry here. Tests reach
it through the ``tiny`` fixture (a plain ``import conftest`` is ambiguous across test folders).
"""

import pytest

TINY = {
    # c3d's two unpadded stride-2 convolutions need at least 7 frames and 7x7 pixels.
    "c3d": dict(num_frames=8, image_size=32, channels=(8, 16), hidden=64),
    "r2plus1d": dict(num_frames=2, image_size=32, layers=(1, 1, 1, 1)),
    "tsm": dict(num_frames=2, image_size=32, depth=18),
    "cnn_lstm": dict(num_frames=2, image_size=32, width_mult=0.25, hidden=32),
    "timesformer": dict(num_frames=2, image_size=32, embed_dim=64, depth=2, num_heads=4, patch_size=8),
    # vivit's 0.02-std init and MLP head learn too slowly at width 64 for the 6-step fit test.
    "vivit": dict(
        num_frames=2,
        image_size=32,
        embed_dim=128,
        depth=2,
        num_heads=4,
        patch_size=8,
        temporal_heads=4,
        temporal_mlp_dim=256,
    ),
    # clip's hardest path: the text head with learnable context tokens runs the text tower in every forward.
    # From scratch at width 32 and CLIP's 0.02 init the CLS output hardly depends on the input (the
    # norm_pre'd CLS is a constant; real CLIP starts pretrained): init_std 0.3 lets the fit test learn.
    "clip": dict(
        num_frames=2,
        image_size=32,
        patch_size=8,
        width=32,
        depth=1,
        heads=2,
        embed_dim=16,
        temporal_heads=2,
        temporal_mlp_dim=32,
        head="text",
        class_names=("anger", "happiness", "neutral"),
        n_ctx=2,
        text_width=32,
        text_depth=1,
        text_heads=2,
        context_length=8,
        init_std=0.3,
    ),
    "videomae": dict(num_frames=2, image_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, drop_path_rate=0.0),
}


@pytest.fixture
def tiny() -> dict:
    return TINY
