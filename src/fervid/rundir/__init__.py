"""The run directory that training writes and results read: its layout, folds.json's words, the writer's lock, integrity checks.

May import only the base modules (fervid.errors, fervid.writes); both fervid.train and fervid.results stand on it.
"""
