"""Deprecated: ``fervid.engine`` was split into :mod:`fervid.train`, :mod:`fervid.results` and
:mod:`fervid.rundir`. Its old module paths still import, with a DeprecationWarning, for one
release (``fervid._moved``); they go away in fervid 0.3.
"""
