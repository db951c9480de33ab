"""Reading and judging runs: metrics, predictions.csv, reports, comparisons and their statistics, plots, error analysis, pages.

May import fervid.rundir, fervid.inference, fervid.data, fervid.models, fervid.hub and the base modules; never fervid.train.
"""
