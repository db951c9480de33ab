"""clip and videomae train through the k-fold pipeline (tiny sizes, one epoch); clip's text head gets
the prepared data's class names, which its checkpoint keeps for predict."""

from __future__ import annotations

import pytest
from tiny_prepared import make_prepared

from fervid.checkpoint import load_checkpoint
from fervid.classes import BASIC6
from fervid.errors import FervidError
from fervid.train.config import load_config
from fervid.train.run import train_run

KWARGS = {
    "clip": "{patch_size: 8, width: 32, depth: 1, heads: 2, embed_dim: 16, temporal_heads: 2, temporal_mlp_dim: 32, "
    "head: text, n_ctx: 2, text_width: 32, text_depth: 1, text_heads: 2, context_length: 12}",
    "videomae": "{patch_size: 8, embed_dim: 32, depth: 1, num_heads: 2}",
}


def _config(tmp_path, name, *extra):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"dataset: tiny\nmodel: {{name: {name}}}\n")
    return load_config(
        cfg,
        [
            f"model.kwargs={KWARGS[name]}",
            "data.num_frames=4",
            "data.image_size=32",
            "data.num_workers=0",
            "trainer.progress_bar=false",
            "batch_size=6",
            "epochs=1",
            "protocol.folds=2",
            "protocol.val_subjects=0",
            f"data.path={tmp_path / 'data'}",
            *extra,
        ],
    )


@pytest.mark.parametrize("name", ["clip", "videomae"])
def test_one_fold_trains_and_its_checkpoint_reloads(name, tmp_path):
    make_prepared(tmp_path / "data", subjects=4, frames=4)
    results = train_run(_config(tmp_path, name), tmp_path / "run", folds=[0])
    assert results["folds"][0]["n_test"] == 12
    model, meta = load_checkpoint(tmp_path / "run" / "fold_00" / "model.safetensors")
    assert meta.model == name and meta.classes == list(BASIC6)
    if name == "clip":
        assert meta.model_kwargs["class_names"] == list(BASIC6)
        assert model.head.tokens.shape == (6, 12)


def test_class_names_that_are_not_the_data_classes_are_refused(tmp_path):
    make_prepared(tmp_path / "data", subjects=2, frames=4)
    wrong = "model.kwargs.class_names=[a, b, c, d, e, f]"
    with pytest.raises(FervidError, match="differ from the prepared data's classes"):
        train_run(_config(tmp_path, "clip", wrong), tmp_path / "run", folds=[0])


def test_a_run_from_weights_of_another_size_records_their_geometry(tmp_path):
    """model.kwargs left empty: the run is built, recorded and checkpointed with the weights' geometry."""
    import yaml
    from hub_fixtures import perturb, tiny_hf_videomae_config
    from transformers import VideoMAEModel

    make_prepared(tmp_path / "data", subjects=4, frames=4)
    config = tiny_hf_videomae_config(hidden_size=24, num_hidden_layers=1, num_attention_heads=3, intermediate_size=48)
    perturb(VideoMAEModel(config)).save_pretrained(tmp_path / "hf")  # q/v biases off zero, as trained ones are
    cfg = _config(tmp_path, "videomae", f"model.pretrained={tmp_path / 'hf'}")
    cfg["model"]["kwargs"] = {}
    train_run(cfg, tmp_path / "run", folds=[0])
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]["kwargs"]
    assert (recorded["embed_dim"], recorded["depth"], recorded["num_heads"], recorded["patch_size"]) == (24, 1, 3, 8)
    model, meta = load_checkpoint(tmp_path / "run" / "fold_00" / "model.safetensors")
    assert meta.model_kwargs == recorded and model.fc_norm.weight.shape == (24,)
