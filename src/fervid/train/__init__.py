"""Running a protocol: config, fold planning, the Lightning loop per fold, checkpoints, preemption, loggers, the demo.

May import fervid.results, fervid.rundir, fervid.inference, fervid.data, fervid.models, fervid.hub and the base modules; nothing imports it but the CLI.
"""
