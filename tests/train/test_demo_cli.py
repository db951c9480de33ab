"""`fervid demo --models`: the study's six, and any other model with a tiny packaged synth/ config."""

from fervid.cli import main


def test_models_beyond_the_study_are_accepted_and_unknown_ones_listed(tmp_path, capsys):
    assert main(["demo", "--models", "clip,videomae,nosuch", "--out", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.count("\n") == 0
        and "unknown nosuch; choose from c3d, r2plus1d, tsm, cnn_lstm, timesformer, vivit, clip, videomae" in err
    )
    assert not (tmp_path / "demo").exists()  # refused before anything is synthesised
