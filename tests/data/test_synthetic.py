"""The synthetic expression generator: layout, determinism, AU timelines, learnability, faces."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fervid.cli import main
from fervid.data.synthetic import (
    EMOTIONS,
    FOLDERS,
    PROTOTYPES,
    generate,
    make_subject,
    plan_sequence,
    render_sequence,
    render_strip,
)
from fervid.data.synthetic_render import AU_INDEX, AUS, FaceRenderer
from fervid.data.synthetic_subject import sample_face

SMALL = dict(subjects=2, frames=(3, 5), size=(64, 48))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_writes_the_oulu_casia_layout(tmp_path):
    summary = generate(tmp_path / "synth", seed=3, **SMALL)
    base = tmp_path / "synth" / "OriginalImg" / "VL" / "Strong"
    assert sorted(p.name for p in base.iterdir()) == ["P001", "P002"]
    n = 0
    for subject in ("P001", "P002"):
        assert sorted(p.name for p in (base / subject).iterdir()) == sorted(FOLDERS.values())
        for folder in (base / subject).iterdir():
            names = sorted(p.name for p in folder.iterdir())
            assert 3 <= len(names) <= 5
            assert names == [f"{i:03d}.jpeg" for i in range(len(names))]  # zero-based, three digits
            img = cv2.imread(str(folder / names[0]))
            assert img.shape == (48, 64, 3)
            n += len(names)
    assert (summary.subjects, summary.sequences, summary.frames) == (2, 12, n)
    meta = json.loads((tmp_path / "synth" / "synth.json").read_text())
    assert meta["seed"] == 3 and len(meta["sequences"]) == 12
    assert sum(r["n_frames"] for r in meta["sequences"]) == n


def test_the_oulu_reader_reads_it_like_the_real_thing(tmp_path):
    from fervid.data.readers import read_listing

    generate(tmp_path / "synth", **SMALL)
    listing = read_listing("oulu", tmp_path / "synth")
    assert not listing.skipped
    assert sorted((i.subject, i.label) for i in listing.items) == sorted(
        (s, e) for s in ("P001", "P002") for e in EMOTIONS
    )


def test_deterministic_for_a_seed_whatever_the_workers(tmp_path):
    generate(tmp_path / "a", seed=7, **SMALL)
    generate(tmp_path / "b", seed=7, workers=2, **SMALL)
    generate(tmp_path / "c", seed=8, **SMALL)
    a, b, c = (_tree(tmp_path / x) for x in "abc")
    assert a == b  # byte-identical JPEGs
    assert a.keys() != c.keys() or any(a[k] != c[k] for k in a)


def test_rewrites_its_own_folder_and_refuses_others(tmp_path):
    out = tmp_path / "synth"
    generate(out, subjects=2, frames=5, size=(64, 48))
    generate(out, subjects=1, frames=3, size=(64, 48))  # fewer subjects and frames: nothing stale left
    frames = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpeg"))
    assert len(frames) == 6 * 3 and all("/P001/" in f for f in frames)
    assert not list(tmp_path.glob(".synth*"))  # no temporary folders left behind
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(Exception, match="not written by fervid synth"):
        generate(other, **SMALL)
    assert (other / "holiday.jpg").read_bytes() == b"x"


def test_au_timelines_start_neutral_and_follow_the_prototypes():
    subject = make_subject(0, 0)
    for emotion in EMOTIONS:
        for n in (3, 12, 30):
            seq = plan_sequence(0, subject, emotion, n, intensity=(0.5, 0.5))
            assert seq.aus.shape == (n, len(AUS))
            assert not seq.aus[0].any()  # frame 0 is neutral
            active = {AUS[k] for k in np.flatnonzero(seq.aus.max(0) > 0)}
            assert active == set(PROTOTYPES[emotion])
            assert (np.diff(seq.aus, axis=0) >= -1e-12).all()  # neutral → apex, never back
            assert seq.aus[-1].max() > 0.25  # the last frame shows the expression
    assert set(PROTOTYPES["fear"]) > set(PROTOTYPES["surprise"])  # what makes them confusable


def test_every_au_moves_the_face():
    face = FaceRenderer(sample_face(np.random.default_rng(5)))
    neutral = face.render(np.zeros(len(AUS)))[0].astype(np.int16)
    for name in AUS:
        au = np.zeros(len(AUS))
        au[AU_INDEX[name]] = 1.0
        moved = np.abs(face.render(au)[0].astype(np.int16) - neutral).max(axis=2) > 15
        assert moved.sum() > 150, f"{name} changes {moved.sum()} pixels"


def _face_crop(frame: np.ndarray, subject) -> np.ndarray:
    """The subject's face region (where it sits at rest), 32×32 grey, contrast-normalised."""
    h, w = frame.shape[:2]
    half = int(0.5 * subject.place[2] * h)
    cx, cy = int(subject.place[0] * w), int(subject.place[1] * h)
    padded = cv2.copyMakeBorder(frame, half, half, half, half, cv2.BORDER_REPLICATE)
    grey = cv2.cvtColor(padded[cy : cy + 2 * half, cx : cx + 2 * half], cv2.COLOR_BGR2GRAY)
    crop = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (crop - crop.mean()) / (crop.std() + 1e-6)


def _pool(x: np.ndarray) -> np.ndarray:
    return cv2.resize(x, (8, 8), interpolation=cv2.INTER_AREA).ravel()


def loso_predict(x: np.ndarray, y: np.ndarray, subj: np.ndarray) -> np.ndarray:
    """Nearest-centroid predictions, each subject scored by centroids of the other subjects."""
    pred = np.empty_like(y)
    for s in np.unique(subj):
        train, test = subj != s, subj == s
        centroids = np.stack([x[train & (y == c)].mean(0) for c in range(len(EMOTIONS))])
        pred[test] = ((x[test][:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    return pred


def probe_features(
    *, seed: int, subjects: int, frames: int, size: tuple[int, int], intensity: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frame-0 features, motion (last minus first frame) features, labels and subjects.

    Also used by benchmarks/synth_bench.py, so the benchmark and this test probe alike.
    """
    first, motion, labels, subject_ids = [], [], [], []
    for s in range(subjects):
        subject = make_subject(seed, s)
        for c, emotion in enumerate(EMOTIONS):
            seq = plan_sequence(seed, subject, emotion, frames, intensity=intensity)
            video = render_sequence(seq, subject, size, seed)
            f0, f1 = _face_crop(video[0], subject), _face_crop(video[-1], subject)
            first.append(_pool(f0))
            motion.append(np.concatenate([_pool(f1 - f0), _pool(np.abs(f1 - f0))]))
            labels.append(c)
            subject_ids.append(s)
    return np.stack(first), np.stack(motion), np.array(labels), np.array(subject_ids)


def _probe(intensity: tuple[float, float]) -> tuple[float, float]:
    """Subject-independent accuracy of a nearest-centroid probe on frame 0 and on its motion."""
    first, motion, y, subj = probe_features(seed=1, subjects=8, frames=4, size=(96, 72), intensity=intensity)
    return (loso_predict(first, y, subj) == y).mean(), (loso_predict(motion, y, subj) == y).mean()


def test_learnable_from_motion_not_from_the_first_frame_and_harder_when_weak():
    first, strong = _probe((0.8, 1.0))
    _, weak = _probe((0.2, 0.35))
    assert first < 0.35  # chance is 1/6: frame 0 is neutral
    assert strong > 0.5
    assert weak < strong - 0.15  # weak expressions are harder


def test_haar_finds_the_faces():
    from fervid.data.faces import HaarDetector

    detector = HaarDetector()
    found = total = 0
    for s in range(2):
        subject = make_subject(0, s)
        for emotion in EMOTIONS:
            frames = render_sequence(plan_sequence(0, subject, emotion, 6), subject, (320, 240), 0)
            for f in (frames[0], frames[-1]):
                found += len(detector.detect(f[..., ::-1])) > 0
                total += 1
    assert found >= 0.9 * total, f"Haar found {found} of {total} faces"


def test_cli(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["synth", str(out), "--subjects", "1", "--frames", "3-4", "--size", "64x48", "--seed", "2"]) == 0
    assert "6 sequences" in capsys.readouterr().out
    assert len(list(out.rglob("*.jpeg"))) in range(18, 25)
    assert main(["synth", str(tmp_path / "x"), "--frames", "2"]) == 2
    assert "frames per sequence" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", str(tmp_path / "x"), "--size", "big"])


def test_strip(tmp_path):
    path = render_strip(tmp_path / "strip.png", columns=3, tile=48)
    img = cv2.imread(str(path))
    assert img.shape[0] > 6 * 48 and img.shape[1] > 3 * 48
    assert path.stat().st_size < 300_000
