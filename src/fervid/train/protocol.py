"""A run's protocol: the rule and k that the config and the data give, the study's seeds, and
each (seed, fold)'s train / validation / test rows; ``folds.json`` is its record.

Seeds: ``protocol.seeds`` (a list) repeats the whole k-fold study once per seed; without it
the one seed is ``seed``. The test folds never depend on the training seed: ``id``, ``fixed``
and ``holdout`` folds are functions of the data, and ``stratified`` folds are drawn once with
``seed``. Each seed draws its own validation subjects (from the training side only), its own
initialisation, order, augmentation and dropout, so the spread across seeds measures all the
luck of one training run.
"""

from __future__ import annotations

from fervid.errors import FervidError

DEFAULT_K = 10  # subject-independent 10-fold: the Oulu-CASIA / CK+ literature's


def study_seeds(config: dict) -> list[int]:
    return list(config["protocol"]["seeds"] or [config["seed"]])


def multi_seed(config: dict) -> bool:
    """Several seeds: folds live in ``RUN/seed_S/fold_XX`` (see :mod:`fervid.rundir.layout`)."""
    return len(study_seeds(config)) > 1


def resolve_protocol(config: dict, records) -> tuple[str, int]:
    """``(rule, k)`` for these records: ``auto`` resolved, ``protocol.folds: null`` filled
    (10 for ``id``/``stratified``, the data's own count for ``fixed``, 1 for ``holdout``).

    A ``protocol.folds`` that the data contradict (``--folds 10`` on DFEW's 5 official folds) is
    an error naming both, never silently overridden either way.
    """
    from fervid.data.splits import natural_key, resolve_rule

    requested, k = config["protocol"]["rule"], config["protocol"]["folds"]
    rule = resolve_rule(records, requested)
    if rule in ("id", "stratified"):
        return rule, k or DEFAULT_K
    values = sorted({r.fold.strip() for r in records}, key=natural_key)
    n = 1 if rule == "holdout" else len(values)
    if k is not None and k != n:
        what = (
            "holds a train/test split (one test, k=1)"
            if rule == "holdout"
            else f"defines {n} official folds ({', '.join(values[:8])}{', …' if n > 8 else ''})"
        )
        chosen = f"rule {requested!r}" + (f", here {rule!r}" if requested != rule else "")
        raise FervidError(
            f"protocol.folds={k} contradicts the data: its manifest's fold column {what} ({chosen}); "
            "drop --folds (protocol.folds: null) to use them, or set protocol.rule to id or stratified "
            f"to make {k} subject folds instead"
        )
    return rule, n


def plan_folds(config: dict, records) -> tuple[str, list[dict]]:
    """The resolved rule and each ``{"seed", "fold", "train", "val", "test"}`` (row indices),
    seed-major; the test rows of a fold are the same for every seed."""
    from fervid.data import split_validation, subject_kfold
    from fervid.train.resumable import derive_seed

    p = config["protocol"]
    rule, k = resolve_protocol(config, records)
    splits = subject_kfold(records, k, seed=config["seed"], rule=rule)
    plans = []
    for seed in study_seeds(config):
        for i, (train, test) in enumerate(splits):
            train, val = split_validation(records, train, p["val_subjects"], seed=derive_seed(seed, "val", i) % 2**32)
            plans.append({"seed": seed, "fold": i, "train": train, "val": val, "test": test})
    return rule, plans


def prepared_info(meta: dict, records, fingerprint: str | None = None) -> dict:
    """What identifies the prepared data, kept in folds.json so that reports and ``compare``
    can check it where the prepared directory is absent (``fingerprint``, ``subject_ids``:
    :mod:`fervid.rundir.integrity`)."""
    from fervid.rundir.integrity import subject_ids_known

    return {
        "dataset": meta.get("dataset"),
        "size": meta.get("size"),
        "preprocess": meta.get("preprocess") or {},
        "options": meta.get("options") or {},
        "classes": list(meta.get("classes") or []),
        "n_clips": len(records),
        "subject_ids": subject_ids_known((r.clip_id, r.subject) for r in records),
        "fingerprint": fingerprint,
    }


def folds_document(
    config: dict, records, rule: str, plans: list[dict], meta: dict, fingerprint: str | None = None
) -> dict:
    from fervid.data import fold_record

    entries = []
    for p in plans:
        entry = fold_record(records, p["fold"], p["train"], p["test"], p["val"])
        entries.append({"seed": p["seed"], **entry})
    return {
        "rule": rule,
        "rule_requested": config["protocol"]["rule"],
        "k": len({p["fold"] for p in plans}),
        "seed": config["seed"],
        "seeds": study_seeds(config),
        "val_subjects": config["protocol"]["val_subjects"],
        "test_views": config["protocol"]["test_views"],
        "test_crops": config["protocol"]["test_crops"],
        "prepared": prepared_info(meta, records, fingerprint),
        "folds": entries,
    }
