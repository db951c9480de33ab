"""No file whose hash is known is loaded unchecked, and downloads are atomic, through the real code
paths offline: a server on 127.0.0.1 (one that can drop the connection half-way), a temporary
TORCH_HOME and HF_HOME. Hashes are known from a registered entry, from torchvision's
``<name>-<first 8 hex digits of the SHA-256>.<ext>`` file names, and from the Hugging Face
cache's blob names (its blobs are named by their SHA-256)."""

from __future__ import annotations

import io
import os
import types

import pytest
import torch
from hub_fixtures import hf_repo_in_cache, serve, sha256, use_caches
from safetensors.torch import save

from fervid import hub
from fervid.errors import FervidError
from fervid.hub import Url, Weights
from fervid.hub import files as hub_files
from fervid.models import create_model

MODEL, TINY = "c3d", dict(num_frames=8, image_size=32, channels=(4, 8), hidden=16)


def _weights(seed: int = 0) -> tuple[torch.nn.Module, bytes]:
    torch.manual_seed(seed)
    model = create_model(MODEL, num_classes=3, **TINY).eval()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return model, buf.getvalue()


def _same(a, b) -> bool:
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def _register(monkeypatch, url: str, sha: str | None) -> Weights:
    w = Weights(model=MODEL, name="tiny", description="test", source=Url(url), licence="test", sha256=sha)
    monkeypatch.setitem(hub.entries._WEIGHTS, w.key, w)
    return w


def test_a_wrong_file_under_torchvisions_name_is_refused_offline(tmp_path, monkeypatch, capsys):
    """The review's case: a planted resnet50-0676ba61.pth that is not ResNet-50 was loaded as tsm/imagenet."""
    from fervid.cli import main

    ckpts, _ = use_caches(monkeypatch, tmp_path, offline=True)
    ckpts.mkdir(parents=True)
    planted = ckpts / "resnet50-0676ba61.pth"  # torchvision's own name for ResNet50_Weights.IMAGENET1K_V1
    planted.write_bytes(_weights()[1])  # a loadable state dict, just not the right one
    with pytest.raises(FervidError) as e, torch.device("meta"):  # refused before anything is built
        create_model("tsm", pretrained="imagenet")
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"tsm/imagenet: {planted} fails its SHA-256 check: ")
    assert "expected 0676ba61 (the registered SHA-256)" in message
    assert f"got {sha256(planted.read_bytes())[:16]}…" in message
    assert "delete it, then run `fervid weights download tsm/imagenet` on a machine with internet" in message
    assert main(["weights", "path", "tsm/imagenet"]) == 2  # the cache lookup checks it as well
    assert "fails its SHA-256 check" in capsys.readouterr().err


def test_a_wrong_cached_file_is_refused_offline_and_replaced_online(tmp_path, monkeypatch):
    ckpts, _ = use_caches(monkeypatch, tmp_path)
    source, data = _weights()
    name = f"tiny_c3d-{sha256(data)[:8]}.pth"  # a stand-in under a torchvision-style name of its own hash
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / name).write_bytes(data)
    ckpts.mkdir(parents=True)
    (ckpts / name).write_bytes(_weights(seed=1)[1])  # planted: other weights under that name
    with serve(tmp_path / "www") as (url, requests):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(FervidError, match=f"{name} fails its SHA-256 check: expected {sha256(data)[:8]} "):
            create_model(MODEL, num_classes=3, pretrained=f"{url}/{name}", **TINY)
        assert requests == [] and (ckpts / name).read_bytes() != data  # offline: refused, left for the user
        monkeypatch.delenv("HF_HUB_OFFLINE")
        model = create_model(MODEL, num_classes=3, pretrained=f"{url}/{name}", **TINY)  # online: replaced
        again = create_model(MODEL, num_classes=3, pretrained=f"{url}/{name}", **TINY)  # then from the cache
        assert requests == [f"/{name}"] and (ckpts / name).read_bytes() == data
    assert _same(model, source) and _same(again, source)
    assert not [p for p in ckpts.iterdir() if p.name != name]  # no partial file left beside it


def test_a_download_cut_half_way_leaves_nothing_and_the_next_call_downloads_again(tmp_path, monkeypatch):
    """A source without a published hash (as the official TSM file): only the length can tell."""
    ckpts, _ = use_caches(monkeypatch, tmp_path)
    source, data = _weights()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "tsm_like.pth").write_bytes(data)
    with serve(tmp_path / "www", cut=("/tsm_like.pth",)) as (url, requests):
        _register(monkeypatch, f"{url}/tsm_like.pth", None)
        with pytest.raises(FervidError) as e:
            create_model(MODEL, num_classes=3, pretrained="tiny", **TINY)
        message = str(e.value)
        assert "\n" not in message and message.startswith(f"c3d/tiny: cannot get the weights from {url}/tsm_like.pth")
        assert f"stopped after {len(data) // 2:,} of {len(data):,} bytes; nothing was cached" in message
        assert not ckpts.exists() or not any(ckpts.iterdir())  # nothing under the final name, no partial file
        healed = create_model(MODEL, num_classes=3, pretrained="tiny", **TINY)
        assert requests == ["/tsm_like.pth", "/tsm_like.pth"]
    assert _same(healed, source) and [p.name for p in ckpts.iterdir()] == ["tsm_like.pth"]


def test_an_unreadable_cached_file_says_to_delete_it_or_download_it_again(tmp_path, monkeypatch):
    """What an older fervid's interrupted download left behind (no hash to catch it): the message says the fix."""
    ckpts, _ = use_caches(monkeypatch, tmp_path, offline=True)
    ckpts.mkdir(parents=True)
    data = _weights()[1]
    (ckpts / "tsm_like.pth").write_bytes(data[: len(data) // 2])
    _register(monkeypatch, "https://example.invalid/tsm_like.pth", None)  # never contacted: the file is cached
    with pytest.raises(FervidError) as e:
        create_model(MODEL, num_classes=3, pretrained="tiny", **TINY)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{ckpts / 'tsm_like.pth'}: cannot read weights (")
    assert message.endswith("; delete it, or run `fervid weights download c3d/tiny`")


def test_a_local_path_with_a_known_hash_and_the_wrong_content_is_refused(tmp_path, monkeypatch):
    from fervid.data import faces

    _, hf_hub = use_caches(monkeypatch, tmp_path, offline=True)
    source, data = _weights()
    name = f"tiny_c3d-{sha256(data)[:8]}.pth"
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / name).write_bytes(data)
    assert _same(create_model(MODEL, num_classes=3, pretrained=str(tmp_path / "good" / name), **TINY), source)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / name).write_bytes(data[:-8] + b"tampered")
    with pytest.raises(FervidError) as e:
        create_model(MODEL, num_classes=3, pretrained=str(tmp_path / "bad" / name), **TINY)
    assert str(e.value).startswith(f"{tmp_path / 'bad' / name} fails its SHA-256 check: expected {sha256(data)[:8]}")
    assert str(e.value).endswith("; replace it with the original file")

    # a copy under a registered file name is checked against the registered digest (YuNet's, here)
    yunet = tmp_path / "face_detection_yunet_2023mar.onnx"
    yunet.write_bytes(b"not the YuNet model")
    with pytest.raises(FervidError, match="expected 8f2383e4dd3cfbb4… \\(the registered SHA-256\\)") as e:
        faces.make_detector("yunet", model=str(yunet))
    assert "`fervid weights download yunet/2023mar`" in str(e.value)

    # a Hugging Face cache folder given as a path: its blobs are checked by their names
    files = {"model.safetensors": save({k: v.contiguous() for k, v in source.state_dict().items()})}
    snapshot = hf_repo_in_cache(hf_hub, "fervid-test/local", files, lfs=("model.safetensors",))
    (snapshot / "model.safetensors").resolve().write_bytes(b"x" + files["model.safetensors"][1:])
    with pytest.raises(
        FervidError, match="the Hugging Face cache's blob name.*`fervid weights download hf:fervid-test/local`"
    ):
        create_model(MODEL, num_classes=3, pretrained=str(snapshot), **TINY)


def test_each_file_is_hashed_once_per_process_until_it_changes(tmp_path, monkeypatch):
    use_caches(monkeypatch, tmp_path)
    _, data = _weights()
    path = tmp_path / f"tiny_c3d-{sha256(data)[:8]}.pth"
    path.write_bytes(data)
    calls, real = [], hub_files.hashlib.sha256

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(hub_files, "hashlib", types.SimpleNamespace(sha256=counting))
    for _ in range(3):
        create_model(MODEL, num_classes=3, pretrained=str(path), **TINY)
    assert len(calls) == 1
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # the same bytes, touched: checked again
    create_model(MODEL, num_classes=3, pretrained=str(path), **TINY)
    assert len(calls) == 2


def test_online_a_corrupted_hugging_face_blob_is_downloaded_again(tmp_path, monkeypatch):
    """The hub itself is not reachable here: huggingface_hub's download function is stood in for by one
    that serves the cache (local_files_only) and, asked to force a download, writes the true file."""
    import huggingface_hub

    _, hf_hub = use_caches(monkeypatch, tmp_path)
    source, _ = _weights()
    data = save({k: v.contiguous() for k, v in source.state_dict().items()})
    snapshot = hf_repo_in_cache(hf_hub, "fervid-test/heal", {"model.safetensors": data}, lfs=("model.safetensors",))
    blob = (snapshot / "model.safetensors").resolve()
    blob.write_bytes(b"y" + data[1:])
    forced = []

    def download(repo_id, filename, *, force_download=False, local_files_only=False, **kw):
        path = snapshot / filename
        if force_download:
            forced.append(filename)
            blob.write_bytes(data)
            path.symlink_to(blob)
        if not path.exists():
            raise huggingface_hub.errors.LocalEntryNotFoundError(filename)
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    model = create_model(MODEL, num_classes=3, pretrained="hf:fervid-test/heal", **TINY)
    assert forced == ["model.safetensors"] and blob.read_bytes() == data and _same(model, source)
