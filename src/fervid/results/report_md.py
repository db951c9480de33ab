"""``report.md`` of a run, rendered from its ``results.json`` document alone."""

from __future__ import annotations

from fervid.results.metrics import SUMMARY_KEYS
from fervid.rundir.folds import RULE_WORDS

PLOT_NAMES = ("confusion", "folds", "curves")


def _val_words(fraction: float | None) -> str:
    if fraction is None:
        return "as recorded in the fold results"
    if not fraction:
        return "none (no validation split)"
    return f"{fraction * 100:g} % of each fold's training subjects, held out"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}"


def _pm(mean: float, std: float | None) -> str:
    """``mean ± std`` in %, or the mean alone where there is no std (one fold)."""
    return _pct(mean) if std is None else f"{_pct(mean)} ± {_pct(std)}"


def _pm_seeds(mean: float, std_seeds: float | None, std: float | None) -> str:
    """Mean over seeds ± std across seeds, beside the fold std."""
    out = _pct(mean) + ("" if std_seeds is None else f" ± {_pct(std_seeds)} (seeds)")
    return out + ("" if std is None else f" ± {_pct(std)} (folds)")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def _fmt_selection(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def protocol_items(r: dict) -> list[str]:
    """The protocol in words, one item per aspect (report.md's bullets and the HTML report's list)."""
    return [line.removeprefix("- ") for line in _protocol_lines(r)]


def _protocol_lines(r: dict) -> list[str]:
    split = r["split"]
    rule, seeds = split["rule"], split.get("seeds") or [split.get("seed")]
    chosen = " (chosen by rule 'auto' from the manifest's fold column)" if split.get("rule_requested") == "auto" else ""
    words = RULE_WORDS.get(rule, "as recorded in folds.json")
    if rule == "holdout":
        first = f"- {r['protocol']}: rule {rule!r}{chosen}: {words}"
    else:
        drawn = f"; folds drawn with seed {split['seed']}" if rule == "stratified" else ""
        units = "subjects" if split.get("subject_ids", True) else "clips"
        first = (
            f"- {r['protocol']} cross-validation: {split['k']} folds of {units} (rule {rule!r}{chosen}: {words}{drawn})"
        )
    if split.get("subject_ids", True):
        sides = "no subject is on both sides of a fold."
    else:
        sides = (
            "these data publish no subject identities (each clip is its own subject), so one person's clips "
            "may be on both sides of a split; clips are treated as independent."
        )
    lines = [first + f"; test-subject lists sha1 {split['test_subjects_sha1']}; {sides}"]
    if len(seeds) > 1:
        lines.append(
            f"- Seeds {', '.join(map(str, seeds))}: the whole study once per seed, on the same test folds; "
            "each seed draws its own validation subjects, initialisation, batch order, augmentation "
            "and dropout."
        )
    else:
        lines.append(f"- One training run per fold, seed {seeds[0]}.")
    selection = r["selection"][0] if len(r["selection"]) == 1 else "per fold, listed under the results table"
    lines.append(
        f"- Validation: {_val_words(split.get('val_subjects'))}. Model selection: {selection}. "
        "Selection uses only training subjects; the test fold is scored once, at the end, and "
        "chooses nothing."
    )
    v, c = split.get("test_views", 1), split.get("test_crops", 1)
    lines.append(
        "- Test: one view per clip."
        if v * c == 1
        else f"- Test: each clip's logits averaged over {v} evenly spaced temporal view{'s' if v > 1 else ''}"
        + (" × 3 spatial crops (left, centre, right)" if c == 3 else "")
        + f" = {v * c} views."
    )
    lines.append(
        "- Metrics: accuracy = WAR (fraction of test clips correct); UAR = mean recall over the classes "
        "present in the fold's test set; macro-F1 (torchmetrics). Mean over folds, each fold weighted "
        "equally; ± is the sample standard deviation over folds (ddof=1; none for a single fold)"
        + (
            "; over seeds: the mean of the seeds' k-fold means, ± the sample std across seeds beside "
            "the fold std (averaged over seeds)."
            if len(seeds) > 1
            else "."
        )
    )
    lines.append(f"- Classes ({len(r['classes'])}): {', '.join(r['classes'])}.")
    if r.get("cost_error"):
        lines.append(f"- Model: parameters and GMACs could not be counted ({r['cost_error']}).")
    elif r.get("params") is not None:
        views = r.get("test_views") or 1
        per_test = f"; × {views} test views = {r['gmacs_test']:.3g} GMACs per test clip" if views > 1 else ""
        lines.append(
            f"- Model: {r['params'] / 1e6:.2f} M parameters, {r['gmacs']:.3g} GMACs per clip "
            f"({r['input']}, one view, multiply-accumulates){per_test}."
        )
    p = r.get("prepared")
    if p:
        pre = ", ".join(f"{k} {v}" for k, v in sorted((p.get("preprocess") or {}).items()))
        layout = f" (prepared by the {p.get('dataset')} reader)" if p.get("dataset") not in (None, r["dataset"]) else ""
        lines.append(
            f"- Data: {r['dataset']}{layout}, {p.get('n_clips', '?')} clips of {p.get('size')} px"
            + (f"; face crop: {pre}" if pre else "")
            + (f"; fingerprint {p['fingerprint'][:12]}" if p.get("fingerprint") else "")
            + "."
        )
    return lines


def _results_lines(r: dict) -> list[str]:
    multi = len(r.get("seeds") or []) > 1
    head = "| seed | fold |" if multi else "| fold |"
    lines = [
        "## Results (%)",
        "",
        head + " n_test | accuracy | UAR | macro-F1 | selected epoch / run | train time |",
        "|---:" * (2 if multi else 1) + "|---:|---:|---:|---:|---:|---:|",
    ]
    for f in r["folds"]:
        epochs = f"{f.get('selected_epoch') or '–'} / {f.get('epochs_run') or '–'}"
        first = f"| {f.get('seed')} | {f['fold']} |" if multi else f"| {f['fold']} |"
        lines.append(
            f"{first} {f['n_test']} | {_pct(f['accuracy'])} | {_pct(f['uar'])} | "
            f"{_pct(f['macro_f1'])} | {epochs} | {_duration(f.get('train_time_s'))} |"
        )
    m, s = r["mean"], r["std"]
    clips = r.get("n_test_clips") or r["n_test_total"] // max(len(r.get("seeds") or [None]), 1)
    if not multi:
        lines.append(
            f"| **mean ± std** | {clips} | "
            + " | ".join(f"**{_pm(m[k], s[k])}**" for k in SUMMARY_KEYS)
            + f" | | {_duration(r['train_time_s'])} total |"
        )
    else:
        for p in r["per_seed"]:
            lines.append(
                f"| {p['seed']} | mean ± std ({p['n_folds']} folds) | | "
                + " | ".join(_pm(p["mean"][k], p["std"][k]) for k in SUMMARY_KEYS)
                + " | | |"
            )
        lines.append(
            f"| **all** | **mean over {len(r['per_seed'])} seeds** | {clips} | "
            + " | ".join(f"**{_pm_seeds(m[k], r['std_seeds'][k], s[k])}**" for k in SUMMARY_KEYS)
            + f" | | {_duration(r['train_time_s'])} total |"
        )
        lines += [
            "",
            "n_test: test clips, each scored once per seed. Last row: the mean over seeds of the k-fold means "
            "± the sample std across seeds (seeds) ± the fold std averaged over the seeds (folds).",
        ]
    if len(r["selection"]) > 1:
        lines += ["", "Model selection per fold:", ""]
        lines += [
            f"- {'seed ' + str(f.get('seed')) + ' ' if multi else ''}fold {f['fold']}: {_fmt_selection(f['selection'])}"
            for f in r["folds"]
        ]
    return lines


def _errors_lines(e: dict | None) -> list[str]:
    if not e:
        return []
    lines = [
        "",
        "## Errors",
        "",
        f"From the per-clip predictions (`predictions.csv` of every fold): {e['n_scored']} scorings of "
        f"{e['n_clips']} clips over folds and seeds.",
        *_unscored(e),
        "",
        "Most confused, per true class (% of that class's scored clips):",
        "",
        "| true class | scored | wrong | most often predicted as |",
        "|---|---:|---:|---|",
    ]
    for c in e["confusions"]:
        taken = ", ".join(f"{p['class']} {p['fraction'] * 100:.1f} % ({p['count']})" for p in c["predicted_as"])
        lines.append(f"| {c['true']} | {c['n']} | {c['wrong']} ({c['wrong'] / c['n'] * 100:.1f} %) | {taken or '–'} |")
    if e["hardest"]:
        strips = e.get("strips") or {}
        lines += [
            "",
            "Clips most often wrong (then the most confidently wrong: lowest mean probability of the true class):",
            "",
            "| clip | subject | true | wrong / scored | predicted as | p(true) | frames |",
            "|---|---|---|---:|---|---:|---|",
        ]
        for h in e["hardest"]:
            taken = ", ".join(f"{c} ×{n}" for c, n in sorted(h["predicted_as"].items(), key=lambda kv: -kv[1]))
            strip = f"![{h['clip_id']}]({strips[h['clip_id']]})" if h["clip_id"] in strips else "–"
            lines.append(
                f"| {h['clip_id']} | {h['subject']} | {h['label']} | {h['wrong']}/{h['scored']} | "
                f"{taken} | {h['p_true']:.2f} | {strip} |"
            )
        if not strips:
            lines += ["", "(No frame strips: the prepared data are not on this machine.)"]
    return lines


def _unscored(e: dict) -> list[str]:
    """Folds without predictions, named: their clips are not in the counts, and are not errors."""
    out = []
    for key, what in (("missing", "no predictions.csv"), ("empty", "an empty predictions.csv (a header, no row)")):
        if e.get(key):
            out.append(f"Not included, {what}: {', '.join(f'`{p}`' for p in e[key])}.")
    return ["", *out] if out else []


def integrity_lines(r: dict) -> list[str]:
    """The integrity checks' notes for this run (fervid.rundir.integrity), one line each."""
    from fervid.rundir.integrity import integrity_notes

    return integrity_notes("this run", r.get("integrity"), predictions=not r.get("errors"))  # else under Errors


def summary_line(r: dict) -> str:
    """One line of a run's results, for the terminal (``fervid train`` and ``fervid report``)."""
    multi = len(r.get("seeds") or []) > 1

    def ms(k):
        out = f"{r['mean'][k] * 100:.1f}"
        if multi and r["std_seeds"][k] is not None:
            out += f" ± {r['std_seeds'][k] * 100:.1f} (seeds)"
        return out + ("" if r["std"][k] is None else f" ± {r['std'][k] * 100:.1f}" + (" (folds)" if multi else ""))

    state = "" if r["complete"] else f" (incomplete: folds {', '.join(map(str, r['folds_missing']))} missing)"
    seeds = f", {len(r['seeds'])} seeds" if multi else ""
    return (
        f"{r['model']} on {r['dataset']}, {r['n_folds']}/{r['n_folds_expected']} folds{seeds}{state}: "
        f"accuracy {ms('accuracy')} %, UAR {ms('uar')} %, macro-F1 {ms('macro_f1')} % (rule {r['split']['rule']})"
    )


def render_markdown(results: dict) -> str:
    """``report.md``: protocol, per-fold table, mean ± std (and across seeds), summed confusion
    matrix, errors, plots."""
    r, split = results, results["split"]
    seeds = r.get("seeds") or [split.get("seed")]
    done = f"{r['n_folds']}/{r['n_folds_expected']} folds" + (
        f" ({split['k']} folds × {len(seeds)} seeds)" if len(seeds) > 1 else ""
    )
    lines = [f"# {r['model']} on {r['dataset']}: {done}" + ("" if r["complete"] else " (incomplete)"), ""]
    if not r["complete"]:
        missing = r["folds_missing"]
        lines += [
            f"**Incomplete run**: fold{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} "
            f"{'have' if len(missing) > 1 else 'has'} no result yet"
            + (" for some seeds" if len(seeds) > 1 else "")
            + f"; the mean and std below are over {done} only and are not the {split['k']}-fold result.",
            "",
        ]
    notes = integrity_lines(r)
    lines += [*notes, *([""] if notes else []), "## Protocol", "", *_protocol_lines(r), "", *_results_lines(r)]
    lines += [
        "",
        f"## Confusion matrix, summed over {done} (rows = true class, counts)",
        "",
        "| true \\ predicted | " + " | ".join(r["classes"]) + " | recall |",
        "|---|" + "---:|" * (len(r["classes"]) + 1),
    ]
    for name, row in zip(r["classes"], r["confusion_matrix_sum"]):
        total = sum(row)
        recall = _pct(row[r["classes"].index(name)] / total) if total else "–"
        lines.append(f"| {name} | " + " | ".join(map(str, row)) + f" | {recall} |")
    lines += _errors_lines(r.get("errors"))
    lines += ["", "## Plots", ""]
    lines += [f"![{key}]({r['plots'][key]})" for key in PLOT_NAMES if key in r.get("plots", {})]
    return "\n".join(lines) + "\n"
