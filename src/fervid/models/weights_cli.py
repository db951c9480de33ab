"""``fervid weights list | download NAME… | --all | path NAME``: the named pretrained weights and their caches."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "weights",
        help="list, pre-download and locate named pretrained weights",
        description="Named pretrained weights (NAME is MODEL/WEIGHTS, e.g. r2plus1d/kinetics400) live in "
        "torch.hub's cache ($TORCH_HOME/hub/checkpoints) or Hugging Face's ($HF_HOME/hub). "
        "Download them on a machine with internet, copy both caches to an offline machine "
        "and set HF_HUB_OFFLINE=1 there (docs/models.md).",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = sub.add_parser("list", help="every named weight: source, size, licence, hash, cached here or not")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.set_defaults(func=run_list)
    q = sub.add_parser("download", help="fetch weights into the caches (names, hf:ORG/NAME[@REV] ids or URLs)")
    q.add_argument("names", nargs="*", metavar="NAME")
    q.add_argument("--all", action="store_true", help="every named weight")
    q.set_defaults(func=run_download)
    q = sub.add_parser("path", help="print where the weights file of NAME is in the cache")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(func=run_path)


def _registered():
    """Every named weight (the models' and the YuNet face detector's) and the configs' starts."""
    from fervid.hub import all_weights
    from fervid.models import get_model_info, list_models

    study = {(n, get_model_info(n).study_weights) for n in list_models()}
    return all_weights(), study


def known_repos() -> dict[str, tuple[str, ...]]:
    """Model -> Hugging Face repos beyond the named weights known to load by their own geometry."""
    from fervid.models import get_model_info, list_models

    return {n: get_model_info(n).known_repos for n in list_models() if get_model_info(n).known_repos}


def _source_of(name: str):
    """``(source, sha256, label)`` for a registered MODEL/WEIGHTS name, an ``hf:`` id or a URL."""
    from fervid.errors import FervidError
    from fervid.hub import Url, get_weights, parse_hf

    if name.startswith("hf:"):
        return parse_hf(name), None, name
    if name.startswith(("https://", "http://")):
        return Url(name), None, name
    weights, _ = _registered()
    if "/" not in name:
        of_model = [w.key for w in weights if w.model == name]
        raise FervidError(
            f"{name!r}: name weights as MODEL/WEIGHTS ({', '.join(of_model or ['see `fervid weights list`'])}),"
            " hf:ORG/NAME[@REVISION] or a URL"
        )
    w = get_weights(name)
    return w.source, w.sha256, w.key


def run_list(args: argparse.Namespace) -> int:
    from fervid.hub import cached_path, hf_cache_dir, torch_hub_checkpoints

    weights, study = _registered()
    rows = []
    for w in weights:
        cached = cached_path(w)
        rows.append(
            {
                "name": w.key,
                "study": (w.model, w.name) in study,
                "description": w.description,
                "source": str(w.source),
                "size": w.size,
                "licence": w.licence,
                "sha256": w.sha256,
                "cached": str(cached) if cached else None,
                "mean": w.mean,
                "std": w.std,
                "image_size": w.image_size,
                "num_frames": w.num_frames,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows) + 2
    print(f"{'name':<{width}} {'size':>8}  {'licence':<27} {'sha256':<10} {'cached':<6}  source")
    for r in rows:
        size = f"{r['size'] / 1e6:.1f} MB" if r["size"] else "?"
        sha = (r["sha256"] or "none")[:8]
        name = r["name"] + (" *" if r["study"] else "")
        print(
            f"{name:<{width}} {size:>8}  {r['licence']:<27} {sha:<10} {'yes' if r['cached'] else 'no':<6}  "
            f"{r['source']}"
        )
    print(
        f"* where the packaged configs start (for the study's six models: the study's start). sha256: first 8 "
        f"hex digits of the published hash, 'none' where the "
        f"source publishes none (Hugging Face LFS files are checked against the hub's own hash). Every file "
        f"with a known hash is checked before it is loaded. Caches: "
        f"{torch_hub_checkpoints()} (URLs), {hf_cache_dir()} (hf:)"
    )
    print(
        "\nAlso known to load, as pretrained=hf:ORG/NAME, built with their own geometry (checked on their "
        "published config sizes in fervid's tests, not with the files themselves):"
    )
    for model, repos in known_repos().items():
        print(f"  {model}: {', '.join(repos)}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from fervid.errors import FervidError
    from fervid.hub import fetch

    if args.all == bool(args.names):
        raise FervidError("give NAME... or --all (not both)")
    names = [w.key for w in _registered()[0]] if args.all else args.names
    failed = 0
    for name in names:
        try:
            source, sha256, label = _source_of(name)
            print(f"{label}: {fetch(source, sha256=sha256, label=label)}", flush=True)
        except FervidError as e:  # one unreachable source does not stop the others
            print(f"fervid weights: error: {e}", file=sys.stderr, flush=True)
            failed += 1
    return 2 if failed else 0


def run_path(args: argparse.Namespace) -> int:
    from fervid.hub import fetch

    source, sha256, label = _source_of(args.name)
    print(fetch(source, sha256=sha256, label=label, download=False))
    return 0
