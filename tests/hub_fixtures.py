"""Offline stand-ins for the places weights come from: an HTTP server on 127.0.0.1, a Hugging Face
hub cache in a temporary HF_HOME, torch.hub's cache in a temporary TORCH_HOME. Nothing here
touches any other address. (At the tests' root, so that every test folder can import it.)"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from contextlib import contextmanager
from functools import partial
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"  # a commit id as the hub writes into refs/main


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def use_caches(monkeypatch, root: Path, *, offline: bool = False) -> tuple[Path, Path]:
    """Point TORCH_HOME and HF_HOME into ``root``; returns (torch.hub checkpoints dir, HF hub dir)."""
    for var in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setenv("HF_HOME", str(root / "hf"))
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root / "torch" / "hub" / "checkpoints", root / "hf" / "hub"


@contextmanager
def serve(directory: Path, *, cut: tuple[str, ...] = ()):
    """Serve ``directory`` over HTTP on 127.0.0.1; yields ``(base_url, requests)``, the paths asked for.

    The first request for each path in ``cut`` announces the whole file (Content-Length) but gets
    half of it before the server closes the connection, as a dropped connection does."""
    requests: list[str] = []
    pending = set(cut)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            requests.append(self.path)

        def copyfile(self, source, outputfile):
            if self.path not in pending:
                return super().copyfile(source, outputfile)
            pending.discard(self.path)
            data = source.read()
            outputfile.write(data[: len(data) // 2])
            outputfile.flush()
            self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url(name: str) -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def as_hub_files(saved: Path) -> dict[str, bytes]:
    """A transformers ``save_pretrained`` folder as its hub repo holds it: ``config.json`` and a
    ``pytorch_model.bin`` with the tensor names that ``save_pretrained`` writes to files (4.x names
    such as VideoMAE's ``q_bias``), which is how the older repos (OpenAI's CLIP, MCG-NJU's VideoMAE)
    store their weights."""
    import io

    import torch
    from safetensors.torch import load_file

    buf = io.BytesIO()
    torch.save(load_file(str(saved / "model.safetensors")), buf)
    return {"config.json": (saved / "config.json").read_bytes(), "pytorch_model.bin": buf.getvalue()}


def hf_repo_in_cache(hub: Path, repo_id: str, files: dict[str, bytes], *, lfs: tuple[str, ...] = ()) -> Path:
    """Write ``files`` as the hub cache does: refs/main -> snapshots/<commit>/<file>; files named in
    ``lfs`` are symlinks to blobs/<sha256>, as the hub stores LFS files. Returns the snapshot dir."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for name, data in files.items():
        if name in lfs:
            blob = repo / "blobs" / sha256(data)
            blob.parent.mkdir(exist_ok=True)
            blob.write_bytes(data)
            (snapshot / name).symlink_to(blob)
        else:
            (snapshot / name).write_bytes(data)
    return snapshot


def perturb(model, seed: int = 0):
    """``model`` with every parameter moved off its init by seeded noise (std 0.05), in eval mode:
    a key or layout mistake then shows in the outputs instead of hiding behind symmetric inits."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def tiny_hf_clip(*, layers: int = 1, heads: int = 2, patch_size: int = 8, context: int = 16):
    """A tiny perturbed transformers ``CLIPModel``: 32-wide towers, 32-px images, 16-d projection,
    CLIP's real 49,408-token vocabulary (so open_clip's tokenizer fits it)."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)  # the init, before perturb's own noise
    tower = dict(hidden_size=32, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=heads)
    config = CLIPConfig(
        text_config=dict(vocab_size=49408, max_position_embeddings=context, **tower),
        vision_config=dict(image_size=32, patch_size=patch_size, **tower),
        projection_dim=16,
    )
    return perturb(CLIPModel(config))


def tiny_hf_videomae_config(**kw):
    """A tiny transformers ``VideoMAEConfig`` (4 frames of 32 px, 8-px patches, 2-frame tubelets,
    32 wide, 2 layers, 3 labels); ``kw`` overrides or adds keys."""
    from transformers import VideoMAEConfig

    # eps 1e-6 as in the official model; Hugging Face's default 1e-12 would differ by ~1e-6 relative
    base = dict(
        image_size=32,
        patch_size=8,
        num_frames=4,
        tubelet_size=2,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=3,
        layer_norm_eps=1e-6,
    )
    return VideoMAEConfig(**{**base, **kw})
