"""``fervid compare``'s Markdown table and the conventions written under it (rows from
fervid.results.compare; the HTML page, fervid.results.html_report, uses the same cells)."""

from __future__ import annotations

from fervid.results.report_md import _duration, _pm, _pm_seeds

RESAMPLES = 2000  # cluster-bootstrap resamples of the units (subjects)
PERMUTATIONS = 9999  # sign patterns drawn by the permutation test (all of them when fewer)


def _ms(row: dict, key: str) -> str:
    if row["n_seeds"] > 1:
        return _pm_seeds(row[f"{key}_mean"], row[f"{key}_std_seeds"], row[f"{key}_std"])
    return _pm(row[f"{key}_mean"], row[f"{key}_std"])


def _diff(row: dict, key: str) -> str:
    if row.get(f"{key}_diff") is None:
        return "baseline" if row.get("paired_note") == "baseline" else "–"
    return (
        f"{row[f'{key}_diff'] * 100:+.1f} [{row[f'{key}_diff_low'] * 100:+.1f}, {row[f'{key}_diff_high'] * 100:+.1f}]"
    )


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def unit_words(row: dict) -> str:
    """The unit the row's interval and p resample: "80 subjects", or "480 clips (no identities)"."""
    if row.get("unit") is None:
        return "–"
    if row["unit"] == "subject":
        return f"{row['n_units']} subjects"
    return f"{row['n_units']} clips (no identities)"


def gmacs_cell(row: dict) -> str:
    if row["gmacs"] is None:
        return "–"
    return f"{row['gmacs']:.3g}" + (f" × {row['test_views']}" if row["test_views"] > 1 else "")


def folds_cell(row: dict) -> str:
    """``10/10``; with several seeds ``10 folds × 2 seeds`` (``19/20 (10 folds × 2 seeds)`` while incomplete)."""
    if row["n_seeds"] == 1:
        return row["folds"]
    design = f"{row['k']} folds × {row['n_seeds']} seeds"
    return design if row["complete"] else f"{row['folds']} ({design})"


def _paired_notes(rows: list[dict], baseline_named: bool) -> list[str]:
    base = next(r["label"] for r in rows if r.get("paired_note") == "baseline")
    tested = [r for r in rows if r.get("p_value") is not None]
    how = "named with --baseline" if baseline_named else "the first run given"
    lines = [
        f"Paired against the baseline {base} ({how}), on the test clips both runs scored in their shared "
        "seeds: Δ = run − baseline in points, the difference of the table's means (per seed and fold, "
        "averaged over folds, then seeds). Unit of inference: the subject, each with all its clips and "
        f"seeds (one person's clips succeed or fail together): 95 % interval = BCa cluster bootstrap "
        f"({RESAMPLES} resamples of subjects, seeded); p = two-sided sign-flip permutation test on the "
        f"subjects' contributions to Δ ({PERMUTATIONS} random sign patterns, seeded, or all of them when "
        "fewer). McNemar p: exact test on the discordant clip scorings summed over seeds; it counts clips "
        "as independent, which they are not: descriptive only, not the test."
    ]
    if len(tested) > 1:
        lines.append(
            f"p-values are Holm-adjusted for the {len(tested)} comparisons with the baseline (each metric "
            "separately); the intervals are not adjusted."
        )
    clips = [r["label"] for r in tested if r.get("unit") == "clip"]
    if clips:
        lines.append(
            f"{', '.join(clips)}: clips treated as independent; identities not published (each clip is its "
            "own subject in these data), so the unit is the clip."
        )
    notes = [f"{r['label']} ({r['paired_note']})" for r in rows if r.get("paired_note") not in (None, "", "baseline")]
    if notes:
        lines.append(f"Paired-test notes: {'; '.join(notes)}.")
    return lines


def render_table(
    rows: list[dict], *, forced: bool = False, warnings: list[str] = (), baseline_named: bool = False
) -> str:
    """Markdown table of :func:`fervid.results.compare.compare_runs` rows, with the conventions under it."""
    paired = any(r.get("baseline") for r in rows)
    lines = [
        "| model | dataset | protocol | folds | accuracy (%) | UAR (%) | macro-F1 (%) | params (M) | GMACs/clip "
        "| train time/fold |"
        + (
            " Δ accuracy [95 % CI] | p (Δ acc.) | Δ UAR [95 % CI] | p (Δ UAR) | unit | McNemar p (clips, descriptive) |"
            if paired
            else ""
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|---:|---|---:|" if paired else ""),
    ]
    for r in rows:
        params = f"{r['params_m']:.2f}" if r["params_m"] is not None else "–"
        lines.append(
            f"| {r['label']} | {r['dataset']} | {r['protocol']} | {folds_cell(r)} | {_ms(r, 'accuracy')} | "
            f"{_ms(r, 'uar')} | {_ms(r, 'macro_f1')} | {params} | {gmacs_cell(r)} | "
            f"{_duration(r['train_time_per_fold_s'])} |"
            + (
                f" {_diff(r, 'accuracy')} | {_p(r.get('accuracy_p_value'))} | {_diff(r, 'uar')} | "
                f"{_p(r.get('p_value'))} | {unit_words(r)} | {_p(r.get('mcnemar_clip_p'))} |"
                if paired
                else ""
            )
        )
    per_run = [f"{r['label']} {r['input']}" for r in rows if r["input"]]
    sizes = {r["input"] for r in rows if r["input"]}
    inputs = f" (T×H×W {sizes.pop()})" if len(sizes) == 1 else f" ({', '.join(per_run)})" if sizes else ""
    lines += [
        "",
        "Mean ± sample std (ddof=1) over folds (no std for a single fold); with several seeds, the mean over "
        "seeds of the k-fold means ± the std across seeds, beside the fold std averaged over seeds; accuracy = "
        f"WAR, UAR = mean per-class recall. GMACs: multiply-accumulates per clip, one view{inputs}"
        + ("; × N: the test views averaged per clip." if any(r["test_views"] > 1 for r in rows) else "."),
    ]
    if paired:
        lines += _paired_notes(rows, baseline_named)
    partial = [r["label"] for r in rows if not r["complete"]]
    if partial:
        lines.append(f"Incomplete runs (mean over the folds present only): {', '.join(partial)}.")
    if forced:
        lines.append(
            "**Warning**: these runs differ in dataset, folds or data (compared with --force); "
            "their numbers are not directly comparable."
        )
    lines += list(warnings)
    return "\n".join(lines) + "\n"
