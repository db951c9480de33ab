"""Zero-shot prediction with a tiny random CLIP saved as a Hugging Face directory, or staged in a
Hugging Face cache under the real repo id of the default weights (clip/openai): the whole path
(weights -> face crops -> windows -> JSON/CSV/plot) runs; the model is random, so the tests check
the structure of the timeline, not its labels."""

import csv
import json

import pytest
import torch
from hub_fixtures import as_hub_files, hf_repo_in_cache, tiny_hf_clip, use_caches

from fervid.cli import main
from fervid.inference.api import Predictor, predict_video
from fervid.inference.zero_shot import load_zero_shot

from .conftest import SINGLE_FACE, decode, face_preprocess, make_checkpoint, write_video

BASIC = ["anger", "disgust", "fear", "happiness", "sadness", "surprise"]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    model = tiny_hf_clip(context=24)
    path = tmp_path_factory.mktemp("clip")
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    """single_face.mp4 at a quarter of its size: the default detector runs on it quickly."""
    frames = [f[::4, ::4] for f in decode(SINGLE_FACE)]
    return write_video(tmp_path_factory.mktemp("video") / "small.mp4", frames, fps=30)


def test_api_zero_shot_timeline(clip_dir):
    predictor = load_zero_shot(clip_dir, neutral=True, preprocess=face_preprocess(32))
    assert isinstance(predictor, Predictor) and predictor.classes == [*BASIC, "neutral"]
    assert predictor.meta.image_size == 32 and predictor.meta.num_frames == 8  # size read from the weights
    assert predictor.meta.extra["zero_shot"] and predictor.synthetic_note is None
    assert not predictor.model.load_report.fresh  # every tensor came from the CLIP weights
    pred = predict_video(SINGLE_FACE, predictor)
    assert pred.frames == 72 and pred.classes == predictor.classes
    assert [(w.start_frame, w.end_frame) for w in pred.windows] == [(s, s + 8) for s in range(0, 65, 4)]
    for w in pred.windows:
        assert w.label in predictor.classes and w.label == max(w.probs, key=w.probs.get)
        assert sum(w.probs.values()) == pytest.approx(1, abs=1e-4)
    assert pred.label in predictor.classes and 1 <= len(pred.thumbnails) <= 6


def test_cli_zero_shot_with_own_classes(clip_dir, small_video, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "predict",
            str(small_video),
            "--zero-shot",
            "clip",
            "--zero-shot-weights",
            str(clip_dir),
            "--classes",
            "happiness, sadness,neutral",
            "--window",
            "24",
            "--stride",
            "24",
            "--faces",
            "largest",  # the one-face JSON and CSV
            "--json",
            str(out / "p.json"),
            "--csv",
            str(out / "p.csv"),
            "--plot",
            str(out / "p.png"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "note:" not in captured.err and "overall:" in captured.out
    doc = json.loads((out / "p.json").read_text())
    classes = ["happiness", "sadness", "neutral"]
    assert len(doc["windows"]) == 3 and doc["label"] in classes and list(doc["probs"]) == classes
    rows = list(csv.DictReader((out / "p.csv").open()))
    assert len(rows) == 3 and [c for c in rows[0] if c.startswith("p_")] == [f"p_{c}" for c in classes]
    assert (out / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_zero_shot_defaults_to_the_cached_openai_weights(clip_dir, small_video, tmp_path, monkeypatch, capsys):
    """`fervid predict VIDEO --zero-shot clip` with clip/openai pre-staged in the cache, offline (the video:
    single_face.mp4 at a quarter size, so the default detector's full-frame pass takes a second, not ten)."""
    _, hf_hub = use_caches(monkeypatch, tmp_path / "cache", offline=True)
    hf_repo_in_cache(hf_hub, "openai/clip-vit-base-patch16", as_hub_files(clip_dir), lfs=("pytorch_model.bin",))
    out = tmp_path / "p.json"
    code = main(
        ["predict", str(small_video), "--zero-shot", "clip", "--window", "24", "--json", str(out), "--faces", "largest"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(out.read_text())
    assert doc["frames"] == 72 and list(doc["probs"]) == BASIC and doc["label"] in BASIC
    assert len(doc["windows"]) == 5  # 24-frame windows, stride 12, over 72 frames
    for a, b in zip(doc["windows"], doc["windows"][1:]):
        assert a["start_s"] < b["start_s"] < a["end_s"] < b["end_s"]
    for w in doc["windows"]:
        assert w["label"] in BASIC and sum(w["probs"].values()) == pytest.approx(1, abs=1e-3)
    predictor = load_zero_shot()  # the Python API's default: the same cached weights
    assert predictor.meta.extra["weights"] == "openai" and predictor.meta.image_size == 32
    assert predictor.source == "zero-shot clip: clip/openai (hf:openai/clip-vit-base-patch16)"


def test_cli_zero_shot_offline_without_the_cache_is_one_line(tmp_path, monkeypatch, capsys):
    use_caches(monkeypatch, tmp_path, offline=True)
    code = main(["predict", str(SINGLE_FACE), "--zero-shot", "clip"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0]
    assert "clip/openai: cannot get the weights from hf:openai/clip-vit-base-patch16" in err[0]
    assert "`fervid weights download clip/openai`" in err[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--zero-shot", "clip", "--zero-shot-weights", "{w}", "--classes", "happiness"], "at least two"),
        (["--zero-shot", "clip", "--zero-shot-weights", "{w}", "--classes", "a,b", "--neutral"], "list neutral there"),
        (
            ["--zero-shot", "clip", "--zero-shot-weights", "{missing}"],
            "not a registered name of clip (openai, openai_b32)",
        ),
        (["--checkpoint", "{ckpt}", "--classes", "a,b"], "--classes applies to --zero-shot only"),
    ],
)
def test_cli_zero_shot_errors_are_one_line(args, message, clip_dir, face_ckpt, tmp_path, capsys):
    fill = {"w": str(clip_dir), "missing": str(tmp_path / "none"), "ckpt": str(face_ckpt)}
    code = main(["predict", str(SINGLE_FACE), *[a.format(**fill) for a in args]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]


def test_synthetic_checkpoint_says_so_once(small_video, tmp_path, capsys):
    synth = make_checkpoint(tmp_path / "synth.safetensors", extra={"dataset": "synth"})
    assert main(["predict", str(small_video), "--checkpoint", str(synth), "--quiet"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert len(notes) == 1 and "synthetic faces" in notes[0] and "--zero-shot clip" in notes[0]
    real = make_checkpoint(tmp_path / "real.safetensors", extra={"dataset": "dfew"})
    assert main(["predict", str(small_video), "--checkpoint", str(real), "--quiet"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_zero_shot_predictor_saves_as_a_checkpoint(clip_dir, tmp_path):
    from fervid.checkpoint import load_checkpoint, save_checkpoint

    predictor = load_zero_shot(clip_dir, classes=["happiness", "neutral"], preprocess=face_preprocess(32))
    save_checkpoint(tmp_path / "zs.safetensors", predictor.model, predictor.meta)
    model, meta = load_checkpoint(tmp_path / "zs.safetensors")
    assert meta.classes == ["happiness", "neutral"] and meta.extra["zero_shot"]
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), predictor.model(x), atol=0, rtol=0)


def test_default_prompts_follow_clips_fer2013_recipe(clip_dir):
    """CLIP's zero-shot FER2013 recipe (Radford et al. 2021; openai/CLIP data/prompts.md): adjectives, six templates."""
    from fervid.models.clip_text import FER_TEMPLATES

    predictor = load_zero_shot(clip_dir, neutral=True, preprocess=face_preprocess(32))
    record = predictor.meta.extra["prompts"]
    assert record["templates"] == list(FER_TEMPLATES) and "FER2013" in record["recipe"]
    assert record["by_class"]["happiness"][0] == "a photo of a happy looking face."
    assert record["by_class"]["neutral"][2] == "a photo of a face looking neutral."
    assert record["by_class"]["fear"][5] == "look at how fearful they are."
    assert predictor.model.head.tokens.shape[0] == 7 * len(FER_TEMPLATES)
    own = load_zero_shot(clip_dir, classes=["Happy", "calm"], preprocess=face_preprocess(32))  # known and not
    assert (
        own.classes == ["Happy", "calm"]
        and own.meta.extra["prompts"]["by_class"]["calm"][3] == "a face that looks calm."
    )


PROMPTS_YAML = """\
# per-class descriptions; commas, colons and quotes are part of the text
happiness:
  - "a face with a broad smile, lifted cheeks, and creased eyes"
  - a photo of a happy looking face.
sadness: "a face with lowered mouth corners, heavy eyelids, and a raised inner brow"
neutral:
  - 'a calm face: relaxed mouth, smooth forehead, level brows'
"""


def test_cli_prompts_file_with_commas_and_the_json_records_them(clip_dir, small_video, tmp_path, capsys):
    (tmp_path / "prompts.yaml").write_text(PROMPTS_YAML)
    out = tmp_path / "p.json"
    args = ["predict", str(small_video), "--zero-shot", "clip", "--zero-shot-weights", str(clip_dir)]
    code = main(
        [*args, "--prompts", str(tmp_path / "prompts.yaml"), "--window", "24", "--stride", "24", "--json", str(out)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(out.read_text())
    assert list(doc["tracks"][0]["overall"]["probs"]) == ["happiness", "sadness", "neutral"]  # every face's
    assert doc["prompts"]["by_class"] == {
        "happiness": ["a face with a broad smile, lifted cheeks, and creased eyes", "a photo of a happy looking face."],
        "sadness": ["a face with lowered mouth corners, heavy eyelids, and a raised inner brow"],
        "neutral": ["a calm face: relaxed mouth, smooth forehead, level brows"],
    }
    assert (
        doc["prompts"]["recipe"] == f"prompts from {tmp_path / 'prompts.yaml'}" and doc["prompts"]["templates"] is None
    )
    assert main([*args, "--prompts", str(tmp_path / "prompts.yaml"), "--neutral"]) == 2
    assert "--prompts names the classes" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("happiness: []\nsadness: sad\n")
    assert main([*args, "--prompts", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "class 'happiness' needs a prompt" in err[0]


def test_per_class_prompts_are_averaged_per_class(clip_dir):
    """A class's embedding is the normalised mean of its own prompts' embeddings, whatever their number."""
    import torch.nn.functional as F

    prompts = {"happiness": ["a happy face, smiling", "they look happy."], "sadness": ["a sad face"]}
    predictor = load_zero_shot(clip_dir, prompts=prompts, preprocess=face_preprocess(32))
    head = predictor.model.head
    with torch.no_grad():
        each = F.normalize(head.text(head.tokens), dim=-1)  # (3, E): the three prompts
        expected = F.normalize(torch.stack([each[:2].mean(0), each[2]]), dim=-1)
    torch.testing.assert_close(head.class_embeds, expected, atol=1e-6, rtol=0)
