"""Named weights through the real download and cache code, offline: an HTTP server on 127.0.0.1,
a Hugging Face hub cache in a temporary HF_HOME, torch.hub's cache in a temporary TORCH_HOME."""

from __future__ import annotations

import io
import json

import pytest
import torch
from hub_fixtures import closed_port_url, hf_repo_in_cache, serve, sha256, use_caches
from safetensors.torch import save
from torchvision.models import MobileNet_V3_Large_Weights, mobilenet_v3_large

from fervid import hub
from fervid.errors import FervidError
from fervid.hub import HfRepo, Url, Weights
from fervid.models import create_model, get_model_info, register_all

MODEL, TINY = "c3d", dict(num_frames=8, image_size=32, channels=(4, 8), hidden=16)  # a model of milliseconds
MEAN, STD = (0.1, 0.2, 0.3), (0.4, 0.5, 0.6)  # unlike any registered default, so their use shows


def _tiny(seed=0):
    torch.manual_seed(seed)
    return create_model(MODEL, num_classes=3, **TINY).eval()


def _pth_bytes(model) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def _register(monkeypatch, source, *, sha=None, name="tiny", model=MODEL):
    """A temporary named weight of ``model`` (the registry entry the tests use instead of the big files)."""
    w = Weights(
        model=model,
        name=name,
        description="test weights",
        source=source,
        licence="test",
        sha256=sha,
        size=None,
        mean=MEAN,
        std=STD,
        image_size=32,
    )
    monkeypatch.setitem(hub.entries._WEIGHTS, w.key, w)
    return w


def _same_logits(a, b):
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_url_download_is_hash_checked_cached_once_and_loads(tmp_path, monkeypatch):
    ckpts, _ = use_caches(monkeypatch, tmp_path)
    source = _tiny()
    data = _pth_bytes(source)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "tiny_c3d.pth").write_bytes(data)
    with serve(tmp_path / "www") as (url, requests):
        _register(monkeypatch, Url(f"{url}/tiny_c3d.pth"), sha=sha256(data))
        model = create_model(MODEL, num_classes=3, pretrained="tiny", **TINY)
        assert (ckpts / "tiny_c3d.pth").read_bytes() == data
        assert not list(ckpts.glob("*.partial"))
        again = create_model(MODEL, num_classes=3, pretrained="tiny", **TINY)  # from the cache
        assert requests == ["/tiny_c3d.pth"]
    assert _same_logits(model, source) and _same_logits(again, source)
    report = model.load_report
    assert report.source.startswith("c3d/tiny (http://127.0.0.1:")
    assert (report.mean, report.std) == (MEAN, STD)
    assert "normalisation of these weights: mean [0.1, 0.2, 0.3]" in str(report)


def test_a_corrupted_download_is_refused_and_never_cached(tmp_path, monkeypatch):
    ckpts, _ = use_caches(monkeypatch, tmp_path)
    data = _pth_bytes(_tiny())
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "tiny.pth").write_bytes(data[:-10] + b"corrupted!")
    with serve(tmp_path / "www") as (url, _):
        _register(monkeypatch, Url(f"{url}/tiny.pth"), sha=sha256(data))
        with pytest.raises(FervidError, match="fails its SHA-256 check") as e:
            create_model(MODEL, num_classes=3, pretrained="tiny", **TINY)
        # an ad-hoc URL with a torchvision-style hash prefix in its name is checked the same way
        (tmp_path / "www" / f"model-{sha256(data)[:8]}.pth").write_bytes(data[:-1])
        with pytest.raises(FervidError, match="fails its SHA-256 check"):
            create_model(MODEL, num_classes=3, pretrained=f"{url}/model-{sha256(data)[:8]}.pth", **TINY)
    assert "\n" not in str(e.value) and "nothing was cached" in str(e.value)
    assert not ckpts.exists() or not any(ckpts.iterdir())


def test_server_down_or_offline_is_one_line_naming_the_download_command(tmp_path, monkeypatch, capsys):
    from fervid.cli import main

    use_caches(monkeypatch, tmp_path)
    url = closed_port_url("tiny.pth")
    _register(monkeypatch, Url(url))
    with pytest.raises(FervidError) as e:
        create_model(MODEL, num_classes=3, pretrained="tiny", **TINY)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"c3d/tiny: cannot get the weights from {url}")
    assert "fervid weights download c3d/tiny" in message
    assert main(["weights", "download", "c3d/tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Connection refused" in err

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline: no connection is even tried
    with serve(tmp_path) as (live, requests):
        _register(monkeypatch, Url(f"{live}/tiny.pth"), name="offline")
        with pytest.raises(FervidError, match="tiny.pth is not in .*; HF_HUB_OFFLINE is set"):
            create_model(MODEL, num_classes=3, pretrained="offline", **TINY)
        assert requests == []


def test_hugging_face_cache_offline_serves_hf_ids_and_registered_names(tmp_path, monkeypatch):
    _, hf_hub = use_caches(monkeypatch, tmp_path, offline=True)
    source = _tiny()
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    keys = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": keys[: len(keys) // 2],
        "model-00002-of-00002.safetensors": keys[len(keys) // 2 :],
    }
    files = {name: save({k: state[k] for k in part}) for name, part in shards.items()}
    files["model.safetensors.index.json"] = json.dumps(
        {"metadata": {}, "weight_map": {k: name for name, part in shards.items() for k in part}}
    ).encode()
    files["config.json"] = b'{"model_type": "c3d"}'
    files["preprocessor_config.json"] = json.dumps({"image_mean": [0.7, 0.7, 0.7], "image_std": [0.2] * 3}).encode()
    hf_repo_in_cache(hf_hub, "fervid-test/tiny", files, lfs=tuple(shards))  # LFS shards: hash-checked too

    by_id = create_model(MODEL, num_classes=3, pretrained="hf:fervid-test/tiny", **TINY)  # sharded, found
    assert _same_logits(by_id, source) and by_id.load_report.source == "hf:fervid-test/tiny"
    assert (by_id.load_report.mean, by_id.load_report.std) == ((0.7,) * 3, (0.2,) * 3)  # the repo's preprocessor

    _register(monkeypatch, HfRepo("fervid-test/tiny", ("config.json", "model.safetensors.index.json")))
    named = create_model(MODEL, num_classes=3, pretrained="tiny", **TINY)
    assert _same_logits(named, source) and (named.load_report.mean, named.load_report.std) == (MEAN, STD)
    with pytest.raises(FervidError, match=r"none of model.safetensors, .* is in .*; HF_HUB_OFFLINE is set"):
        create_model(MODEL, num_classes=3, pretrained="hf:fervid-test/absent@v2", **TINY)


def test_a_corrupted_file_in_the_hugging_face_cache_is_refused_offline(tmp_path, monkeypatch):
    _, hf_hub = use_caches(monkeypatch, tmp_path, offline=True)
    data = save({k: v.contiguous() for k, v in _tiny().state_dict().items()})
    snapshot = hf_repo_in_cache(hf_hub, "fervid-test/bad", {"model.safetensors": data}, lfs=("model.safetensors",))
    blob = (snapshot / "model.safetensors").resolve()
    blob.write_bytes(data[:-4] + b"oops")  # no longer what the hub's hash (the blob name) says
    with pytest.raises(FervidError, match="fails its SHA-256 check") as e:
        create_model(MODEL, num_classes=3, pretrained="hf:fervid-test/bad", **TINY)
    message = str(e.value)
    assert "\n" not in message and f"expected {sha256(data)[:16]}… (the Hugging Face cache's blob name)" in message
    assert f"got {sha256(data[:-4] + b'oops')[:16]}…" in message and str(snapshot / "model.safetensors") in message
    assert "delete it, then run `fervid weights download hf:fervid-test/bad` on a machine with internet" in message
    assert blob.exists()  # offline nothing is deleted: the message says what to do


def test_torchvision_file_in_torch_home_loads_by_name_without_network(tmp_path, monkeypatch):
    import dataclasses

    ckpts, _ = use_caches(monkeypatch, tmp_path, offline=True)
    torch.manual_seed(0)
    tv = mobilenet_v3_large().eval()
    enum = MobileNet_V3_Large_Weights.IMAGENET1K_V1
    assert enum.url.rsplit("/", 1)[-1] == "mobilenet_v3_large-8738ca79.pth"  # torchvision's name, hash prefix in it
    buf = io.BytesIO()
    torch.save(tv.state_dict(), buf)
    # The stand-in cannot hash to 8738ca79: it is staged under a torchvision-style name of its own hash,
    # and the entry points there (a wrong file under the real name is refused: tests/hub/test_hub_checks.py).
    url = enum.url.replace("8738ca79", sha256(buf.getvalue())[:8])
    register_all()
    real = hub.get_weights("cnn_lstm/imagenet")
    monkeypatch.setitem(
        hub.entries._WEIGHTS, real.key, dataclasses.replace(real, source=Url(url), sha256=sha256(buf.getvalue())[:8])
    )
    ckpts.mkdir(parents=True)
    (ckpts / url.rsplit("/", 1)[-1]).write_bytes(buf.getvalue())
    ours = create_model("cnn_lstm", num_classes=6, pretrained="imagenet").eval()
    report = ours.load_report
    assert report.source == f"cnn_lstm/imagenet ({url})" and report.mean == tuple(enum.transforms().mean)
    assert sorted(report.new_head) == ["head.bias", "head.weight"] and report.fresh == ["attention.", "lstm."]
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():  # the classifiers aside, the same network
        assert torch.equal(ours.features(images), tv.features(images))


def test_an_unknown_pretrained_name_lists_the_registered_ones(tmp_path, monkeypatch):
    use_caches(monkeypatch, tmp_path)
    with pytest.raises(FervidError) as e, torch.device("meta"):
        create_model("r2plus1d", pretrained="kinetics")
    assert "not a registered name of r2plus1d (kinetics400)" in str(e.value) and "hf:ORG/NAME" in str(e.value)
    with pytest.raises(FervidError, match="not a registered name of c3d \\(none registered\\)"):
        create_model(MODEL, num_classes=3, pretrained="kinetics400", **TINY)
    with pytest.raises(FervidError, match=r"expected hf:ORG/NAME\[@REVISION\]"):
        create_model(MODEL, num_classes=3, pretrained="hf:no-slash", **TINY)


def test_every_model_declares_the_weights_the_study_started_from():
    from fervid.models import list_models

    study = {n: get_model_info(n).study_weights for n in list_models()}
    assert study == {
        "c3d": None,
        "cnn_lstm": "imagenet",
        "r2plus1d": "kinetics400",
        "timesformer": "kinetics400",
        "tsm": "kinetics400",
        "vivit": "in21k",
        "clip": "openai",
        "videomae": "kinetics400_ssl",
    }  # beyond the study: the packaged configs' start
    register_all()  # the models' entries are registered with their architectures
    names = {w.key for w in hub.all_weights()}
    assert {"tsm/imagenet", "tsm/imagenet_v2", "vivit/imagenet", "cnn_lstm/imagenet_v2"} <= names
    vit_in21k, vit_in1k = (hub.get_weights(k) for k in ("vivit/in21k", "vivit/imagenet"))
    assert vit_in21k.mean == vit_in21k.std == (0.5, 0.5, 0.5)  # Google's in21k ViT
    assert vit_in1k.mean == (0.485, 0.456, 0.406) and vit_in1k.sha256 == "c867db91"  # torchvision's enum
    assert isinstance(vit_in21k.source, HfRepo) and vit_in21k.source.files == ()  # safetensors first, config beside


def test_from_scratch_warning_only_for_full_size_models_the_study_pretrained():
    from fervid.models import from_scratch_warning
    from fervid.train.config import load_config, packaged_configs

    for name in packaged_configs():  # oulu/*, ckplus/* and the wild dfew/*, ferv39k/*, mafw/*: full size
        m = load_config(name)["model"]
        line = from_scratch_warning(m["name"], m["kwargs"], None)  # as `--set model.pretrained=null` would
        if name.startswith("synth/") or m["name"] == "c3d":
            assert line is None, name
        else:
            info = get_model_info(m["name"])
            assert m["pretrained"] == info.study_weights, name  # the packaged configs start there
            assert line.startswith(f"warning: training {m['name']} from scratch, but ") and "\n" not in line, name
            assert line.endswith(f"--set model.pretrained={info.study_weights}")
            start = f"{m['name']}/{info.study_weights}"
            assert (f"the study started it from {start}" in line) == (m["name"] not in ("clip", "videomae")), line
            if m["name"] in ("clip", "videomae"):  # no study: the published results' and the configs' start
                assert (
                    f"published results for it start from pretrained weights, as the packaged configs do "
                    f"from {start}" in line
                )
        assert from_scratch_warning(m["name"], m["kwargs"], "x") is None


def test_weights_cli_lists_downloads_and_locates(tmp_path, monkeypatch, capsys):
    from fervid.cli import main

    ckpts, _ = use_caches(monkeypatch, tmp_path)
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "yunet/2023mar" in {
        w.key for w in hub.all_weights()
    }  # the weights command registers every entry, the detector's too
    assert all(f"\n{w.key}" in out for w in hub.all_weights())
    assert "\nr2plus1d/kinetics400 *" in out and "\ntsm/imagenet " in out  # * the study's start
    assert main(["weights", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["yunet/2023mar"]["size"] == 232_589 and rows["yunet/2023mar"]["licence"] == "MIT"
    assert rows["tsm/kinetics400"]["sha256"] is None and rows["r2plus1d/kinetics400"]["cached"] is None

    data = _pth_bytes(_tiny())
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "tiny.pth").write_bytes(data)
    with serve(tmp_path / "www") as (url, _):
        _register(monkeypatch, Url(f"{url}/tiny.pth"), sha=sha256(data))
        assert main(["weights", "download", "c3d/tiny"]) == 0
    assert capsys.readouterr().out == f"c3d/tiny: {ckpts / 'tiny.pth'}\n"
    assert main(["weights", "path", "c3d/tiny"]) == 0 and capsys.readouterr().out == f"{ckpts / 'tiny.pth'}\n"

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["weights", "path", "r2plus1d/kinetics400"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`fervid weights download r2plus1d/kinetics400`" in err
    assert main(["weights", "download", "--all"]) == 2  # offline: every uncached entry says so, one line each
    lines = capsys.readouterr()
    assert len(lines.err.splitlines()) == len(hub.all_weights()) - 1 and "c3d/tiny" in lines.out
    assert main(["weights", "download"]) == 2 and "give NAME... or --all" in capsys.readouterr().err


def test_yunet_by_name_follows_the_same_cache_and_offline_rules(tmp_path, monkeypatch):
    import dataclasses

    from fervid.data import faces

    real = hub.get_weights(faces.YUNET)
    assert (real.source.cache_name, real.size, real.licence) == ("face_detection_yunet_2023mar.onnx", 232_589, "MIT")
    assert real.sha256 == "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
    assert faces.FaceCropper().detector.name == "haar"  # still the default

    ckpts, _ = use_caches(monkeypatch, tmp_path)
    stand_in = b"a stand-in for face_detection_yunet_2023mar.onnx (the real file cannot be had here)"
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / real.source.cache_name).write_bytes(stand_in)
    with serve(tmp_path / "www") as (url, requests):
        monkeypatch.setitem(
            hub.entries._WEIGHTS,
            faces.YUNET,
            dataclasses.replace(
                real, source=Url(f"{url}/{real.source.cache_name}"), sha256=sha256(stand_in), size=len(stand_in)
            ),
        )
        for _ in range(2):  # downloaded once, then from the cache; OpenCV gets the cached file
            with pytest.raises(FervidError, match=f"{ckpts / real.source.cache_name}: cannot load YuNet model"):
                faces.FaceCropper(detector="yunet")
        assert requests == [f"/{real.source.cache_name}"]
    assert (ckpts / real.source.cache_name).read_bytes() == stand_in

    (ckpts / real.source.cache_name).unlink()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FervidError) as e:
        faces.make_detector("yunet")
    assert "\n" not in str(e.value) and "`fervid weights download yunet/2023mar`" in str(e.value)
