"""A prediction that means something: a tiny C3D trained here on two separable synthetic
classes (a bar moving down vs up) labels held-out encoded videos through the whole predict path."""

import numpy as np
import torch

from fervid.inference.api import predict_video

from .conftest import make_checkpoint, write_video

CLASSES = ["happiness", "sadness"]  # class 0: bar moves down, class 1: bar moves up
SIDE, T, SIZE = 32, 8, 16


def render(label: int, n_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A bright bar crossing a noisy background, 1-1.4 px per frame, down (0) or up (1)."""
    speed = rng.uniform(1.0, 1.4) * (1 if label == 0 else -1)
    thick = int(rng.integers(4, 7))
    travel = abs(speed) * n_frames
    y0 = rng.uniform(0, SIDE - thick - travel) + (0 if label == 0 else travel)
    colour = rng.integers(150, 256, size=3)
    frames = []
    for t in range(n_frames):
        f = rng.integers(0, 60, size=(SIDE, SIDE, 3)).astype(np.uint8)
        y = int(round(y0 + speed * t))
        f[y : y + thick] = colour
        frames.append(f)
    return frames


def train_tiny_c3d(cropper, meta_mean, meta_std, steps: int = 80) -> torch.nn.Module:
    from fervid.data.transforms import to_model_input
    from fervid.models import create_model

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = create_model("c3d", num_classes=2, num_frames=T, image_size=SIZE, channels=(4, 8), hidden=16)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    labels = np.arange(256) % 2
    clips = torch.stack(
        [
            to_model_input(cropper.crop(render(int(y), T, rng)).clip, image_size=SIZE, mean=meta_mean, std=meta_std)
            for y in labels
        ]
    )  # (256, 3, T, SIZE, SIZE)
    targets = torch.as_tensor(labels)
    net.train()
    for _ in range(steps):
        idx = torch.as_tensor(rng.choice(len(labels), 32, replace=False))
        loss = torch.nn.functional.cross_entropy(net(clips[idx]), targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def test_trained_model_labels_held_out_videos(tmp_path):
    from fervid.data.faces import FaceCropper
    from fervid.models import get_model_info

    cropper = FaceCropper(detector="none", size=SIZE)  # pre-cropped "faces": the whole frame
    info = get_model_info("c3d")
    net = train_tiny_c3d(cropper, info.mean, info.std)
    ckpt = make_checkpoint(
        tmp_path / "moving_bar.safetensors",
        net=net,
        num_frames=T,
        image_size=SIZE,
        classes=CLASSES,
        kwargs={"channels": (4, 8), "hidden": 16},
        preprocess=cropper.config,
    )

    rng = np.random.default_rng(123)  # unseen draws
    for label, name in enumerate(CLASSES):
        video = write_video(tmp_path / f"{name}.mp4", render(label, 16, rng), fps=25)
        pred = predict_video(video, ckpt)
        assert pred.label == name, pred.to_dict()
        window_labels = [w.label for w in pred.windows]
        assert window_labels.count(name) >= 0.8 * len(window_labels), window_labels
        assert pred.probs[name] > 0.7
