"""Subject-independent folds: the guarantees, checked over random manifests with hypothesis."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fervid.data.manifest import ClipRecord, write_manifest
from fervid.data.splits import (
    check_subject_disjoint,
    fold_record,
    natural_key,
    resolve_rule,
    split_validation,
    subject_kfold,
    subjects_of,
)
from fervid.errors import FervidError

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rec(i, subject, label, fold=""):
    return ClipRecord(clip_id=f"c{i}", subject=subject, label=label, n_frames=10, source="", face_rate=1.0, fold=fold)


@st.composite
def manifests(draw, min_subjects=2):
    n_subjects = draw(st.integers(min_subjects, 25))
    n_classes = draw(st.integers(1, 6))
    # Unpadded, mixed-width IDs on purpose: natural order must put P2 before P10.
    names = [f"{draw(st.sampled_from(['P', 'S']))}{i + 1}" for i in range(n_subjects)]
    records = []
    for s in names:
        for c in draw(st.lists(st.integers(0, n_classes - 1), min_size=1, max_size=8)):
            records.append(rec(len(records), s, f"class{c}"))
    perm = draw(st.permutations(range(len(records))))  # manifest order must not matter
    return [records[i] for i in perm]


def subjects(records, idx):
    return {records[i].subject for i in idx}


def check_guarantees(records, folds, k):
    assert len(folds) == k
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(records))), "every clip tested exactly once"
    for train, test in folds:
        assert len(test) > 0
        assert not subjects(records, train) & subjects(records, test), "subject on both sides"
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(records)))


@FAST
@given(manifests(), st.integers(2, 10), st.integers(0, 2**31))
def test_id_and_stratified_guarantees(records, k, seed):
    n_subjects = len({r.subject for r in records})
    for rule in ("id", "stratified"):
        if k > n_subjects:
            with pytest.raises(FervidError, match="subjects"):
                subject_kfold(records, k, seed, rule=rule)
            continue
        check_guarantees(records, subject_kfold(records, k, seed, rule=rule), k)


@FAST
@given(manifests(), st.integers(2, 10))
def test_id_rule_is_every_kth_subject_in_natural_order(records, k):
    ordered = sorted({r.subject for r in records}, key=lambda s: (s[0], int(s[1:])))
    if k > len(ordered):
        return
    for i, (_, test) in enumerate(subject_kfold(records, k, rule="id")):
        assert subjects(records, test) == set(ordered[i::k])


@FAST
@given(manifests(min_subjects=3), st.integers(2, 5), st.integers(0, 1000))
def test_stratified_is_seeded_deterministic(records, k, seed):
    if k > len({r.subject for r in records}):
        return
    a = subject_kfold(records, k, seed, rule="stratified")
    b = subject_kfold(records, k, seed, rule="stratified")
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def imbalance(records, fold_of_row, k):
    classes = sorted({r.label for r in records})
    counts = np.zeros((k, len(classes)))
    for r, f in zip(records, fold_of_row):
        counts[f, classes.index(r.label)] += 1
    return float(((counts - counts.sum(0) / k) ** 2).sum())


def test_stratified_balances_classes_better_than_random_subject_folds():
    rng = np.random.default_rng(0)
    strat, rand = [], []
    for trial in range(30):
        records = []
        for s in range(int(rng.integers(12, 40))):
            # Subjects with skewed class mixes make balance a real problem.
            p = rng.dirichlet(np.full(5, 0.5))
            for c in rng.choice(5, size=int(rng.integers(1, 10)), p=p):
                records.append(rec(len(records), f"P{s:03d}", f"class{c}"))
        k = int(rng.integers(3, 8))
        fold_of = np.empty(len(records), dtype=int)
        for i, (_, test) in enumerate(subject_kfold(records, k, seed=trial, rule="stratified")):
            fold_of[test] = i
        strat.append(imbalance(records, fold_of, k))
        subj = sorted({r.subject for r in records})
        for _ in range(10):
            perm = rng.permutation(len(subj))
            rand_fold = {subj[j]: pos % k for pos, j in enumerate(perm)}
            rand.append(imbalance(records, [rand_fold[r.subject] for r in records], k))
    assert np.mean(strat) < 0.5 * np.mean(rand)


def test_natural_order_and_literature_fold_rule():
    assert sorted(["P010", "P2", "P001", "S10", "S5"], key=natural_key) == ["P001", "P2", "P010", "S5", "S10"]
    # Oulu-CASIA-like: 80 subjects x 6 expressions, fold i = subjects[i::10].
    records = [rec(i, f"P{s:03d}", f"e{e}") for i, (s, e) in enumerate((s, e) for s in range(1, 81) for e in range(6))]
    folds = subject_kfold(records, 10)
    assert subjects_of(records, folds[0][1]) == ["P001", "P011", "P021", "P031", "P041", "P051", "P061", "P071"]
    assert [len(t) for _, t in folds] == [48] * 10


def test_natural_key_is_total_where_one_id_prefixes_another():
    # Used to raise TypeError: "ab" vs "ab1" compared the string tie-breaker with the number 1.
    assert sorted(["ab1", "ab"], key=natural_key) == ["ab", "ab1"]
    assert sorted(["x2y", "x2", "x10", "x"], key=natural_key) == ["x", "x2", "x2y", "x10"]


@FAST
@given(st.lists(st.one_of(st.text(max_size=8), st.text(alphabet="aB1_0 9", max_size=8)), max_size=12))
def test_natural_key_is_a_total_order_on_any_strings(ids):
    ordered = sorted(ids, key=natural_key)  # never raises
    assert sorted(ordered) == sorted(ids)
    for a, b in itertools.product(ids, repeat=2):
        ka, kb = natural_key(a), natural_key(b)
        assert (ka == kb) == (a == b)  # equal keys only for equal IDs
        assert (ka < kb) + (ka == kb) + (ka > kb) == 1
    for a, b in zip(ordered, ordered[1:]):
        assert natural_key(a) <= natural_key(b)


def test_kfold_takes_a_dataframe_or_dicts_as_well_as_records(tmp_path):
    """The manifest a user has in hand: pandas.read_csv(manifest.csv) or a list of dicts."""
    pd = pytest.importorskip("pandas")
    records = [rec(i, f"P{i % 5 + 1}", f"class{i % 3}", fold=str(1 + i % 5 // 3)) for i in range(20)]
    write_manifest(tmp_path, records)
    frame = pd.read_csv(tmp_path / "manifest.csv")  # empty/numeric columns arrive as NaN / numbers
    dicts = [{"subject": r.subject, "label": r.label, "fold": r.fold} for r in records]
    for rule, k in (("id", 5), ("stratified", 3), ("fixed", None)):
        want = subject_kfold(records, k, seed=1, rule=rule)
        for given_as in (frame, dicts):
            got = subject_kfold(given_as, k, seed=1, rule=rule)
            assert [(a.tolist(), b.tolist()) for a, b in got] == [(a.tolist(), b.tolist()) for a, b in want]
    train, _ = subject_kfold(frame, 5)[0]
    assert np.array_equal(split_validation(frame, train, 0.5, 3)[1], split_validation(records, train, 0.5, 3)[1])
    with pytest.raises(FervidError, match="row 2: no subject"):
        subject_kfold([{"subject": "a"}, {"label": "x"}], 2)


def test_fixed_rule_honours_fold_column_and_reads_prepared_dir(tmp_path):
    records = [rec(i, f"v{i}", "happiness", fold=str(1 + i % 5)) for i in range(23)]
    write_manifest(tmp_path, records)
    folds = subject_kfold(tmp_path, None, rule="fixed")
    check_guarantees(records, folds, 5)
    for i, (_, test) in enumerate(folds):
        assert {records[j].fold for j in test} == {str(i + 1)}
    assert len(subject_kfold(records, 5, rule="fixed")) == 5
    with pytest.raises(FervidError, match="5 folds"):
        subject_kfold(records, 10, rule="fixed")


def test_auto_rule_reads_the_fold_column_and_holdout_keeps_test_out_of_training():
    plain = [rec(i, f"s{i}", "anger") for i in range(6)]
    dfew = [rec(i, f"v{i}", "anger", fold=str(1 + i % 5)) for i in range(10)]
    ferv = [rec(i, f"v{i}", "anger", fold="Test" if i % 3 == 0 else "train") for i in range(9)]
    assert [resolve_rule(m) for m in (plain, dfew, ferv)] == ["id", "fixed", "holdout"]
    assert resolve_rule(ferv, "stratified") == "stratified"
    assert len(subject_kfold(dfew, None, rule="auto")) == 5
    [(train, test)] = subject_kfold(ferv, None, rule="auto")
    assert test.tolist() == [0, 3, 6] and train.tolist() == [1, 2, 4, 5, 7, 8]
    assert subject_kfold(ferv, 1, rule="holdout")[0][1].tolist() == [0, 3, 6]
    with pytest.raises(FervidError, match="one train/test split"):
        subject_kfold(ferv, 5, rule="auto")
    with pytest.raises(FervidError, match="holds a train/test split, not folds"):
        subject_kfold(ferv, None, rule="fixed")  # the old way: two folds, one of them training on test
    mixed = ferv + [rec(20, "w", "anger", fold="val")]
    with pytest.raises(FervidError, match="mixes Test, train with fold values val"):
        subject_kfold(mixed, None, rule="auto")
    with pytest.raises(FervidError, match="fold values train and test"):
        subject_kfold(mixed, None, rule="holdout")
    with pytest.raises(FervidError, match="subject v0 has clips in both"):
        subject_kfold(ferv + [rec(30, "v0", "anger", fold="train")], None, rule="holdout")
    with pytest.raises(FervidError, match="1 of 7 manifest rows have no fold"):
        subject_kfold(dfew[:6] + plain[:1], None, rule="auto")


def test_fixed_rule_errors():
    plain = [rec(i, f"s{i}", "anger") for i in range(4)]
    with pytest.raises(FervidError, match="fold column"):
        subject_kfold(plain, None, rule="fixed")
    partial = plain[:2] + [rec(9, "x", "anger", fold="1")]
    with pytest.raises(FervidError, match="no fold"):
        subject_kfold(partial, None, rule="fixed")
    leaky = [rec(0, "a", "anger", "1"), rec(1, "a", "anger", "2"), rec(2, "b", "anger", "2")]
    with pytest.raises(FervidError, match="subject a"):
        subject_kfold(leaky, None, rule="fixed")
    with pytest.raises(FervidError, match="rule"):
        subject_kfold(plain, 2, rule="clips")
    with pytest.raises(FervidError, match="k >= 2"):
        subject_kfold(plain, 1)


@FAST
@given(manifests(min_subjects=4), st.floats(0.0, 0.9), st.integers(0, 100))
def test_validation_takes_whole_training_subjects_only(records, fraction, seed):
    train, test = subject_kfold(records, 2, rule="id")[0]
    tr, val = split_validation(records, train, fraction, seed)
    assert sorted(np.concatenate([tr, val]).tolist()) == sorted(train.tolist())
    assert not subjects(records, tr) & subjects(records, val)
    assert not subjects(records, val) & subjects(records, test)
    if fraction == 0:
        assert len(val) == 0
    else:
        assert len(val) > 0 and len(tr) > 0
    again = split_validation(records, train, fraction, seed)
    assert np.array_equal(again[1], val)


def test_validation_errors_and_fold_record():
    records = [rec(i, f"P{i // 2}", "anger") for i in range(8)]
    with pytest.raises(FervidError, match="fraction"):
        split_validation(records, range(8), 1.0, 0)
    with pytest.raises(FervidError, match="2 training subjects"):
        split_validation(records, [0, 1], 0.2, 0)
    train, test = subject_kfold(records, 2)[0]
    tr, val = split_validation(records, train, 0.5, 0)
    entry = fold_record(records, 1, tr, test, val)
    assert entry["fold"] == 1 and entry["test_subjects"] == ["P0", "P2"]
    assert sorted(entry["train_subjects"] + entry["val_subjects"]) == ["P1", "P3"]
    with pytest.raises(FervidError, match="leak"):
        check_subject_disjoint(records, [0, 2], [1])
