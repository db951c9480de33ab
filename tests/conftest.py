"""Session-wide fixtures shared across test folders."""

import pytest


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """A tiny synthetic study in ``fervid demo``'s layout (tests/tiny_study.py); built once."""
    import tiny_study

    return tiny_study.build(tmp_path_factory.mktemp("tiny_study"))
