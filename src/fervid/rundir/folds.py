"""What ``folds.json`` says and how reports word it: its fold entries, the rules and protocols in words,
and the identifier of a test-subject list. Read by training, reports and comparisons alike.
"""

from __future__ import annotations

import hashlib
import json

RULE_WORDS = {  # fervid.data.splits.subject_kfold's rules, in words, for logs and reports
    "id": "subjects sorted by ID, fold i = subjects[i::k]",
    "stratified": "whole subjects placed to balance class counts, seeded",
    "fixed": "the dataset's official folds, from the manifest's fold column",
    "holdout": "the dataset's official train/test split: trained on train (validation drawn from its "
    "subjects), tested once on test",
}


def protocol_name(rule: str, k: int, subject_ids: bool = True) -> str:
    """The protocol in a few words. "Subject-independent" only where the subjects are people
    (``subject_ids``): data that publish no identities (every clip its own subject) are split by
    their official folds, or by clips."""
    if subject_ids:
        return "train/test holdout, subject-independent" if rule == "holdout" else f"{k}-fold subject-independent"
    if rule == "holdout":
        return "official train/test split"
    return f"{k}-fold official splits" if rule == "fixed" else f"{k}-fold over clips"


def fold_entries(doc: dict) -> list[dict]:
    """folds.json's fold entries, each with its ``seed`` (runs made before seeds lack it)."""
    return [{"seed": doc.get("seed"), **f} for f in doc.get("folds", [])]


def subjects_sha1(subjects) -> str:
    """Identifies a test-subject list (order-free) in result.json, reports and comparisons."""
    return hashlib.sha1(json.dumps(sorted(map(str, subjects))).encode()).hexdigest()[:12]
