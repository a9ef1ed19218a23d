"""Hub ids: recognised by shape, and refused with the fix when offline."""

import pytest

from rexbert.errors import UserError
from rexbert.sources.hub import download_hub_folder, load_hub_dataset, looks_like_hub_id


def test_hub_id_shape(tmp_path):
    assert looks_like_hub_id("m-a-p/FineFineWeb")
    assert not looks_like_hub_id(str(tmp_path))
    assert not looks_like_hub_id("just-a-name")


def test_offline_download_is_one_line_with_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match=r"m-a-p/FineFineWeb.*offline.*huggingface-cli download"):
        download_hub_folder("m-a-p/FineFineWeb", tmp_path / "x", ["news/*"])
    with pytest.raises(UserError, match="offline mode is set"):
        load_hub_dataset("m-a-p/FineFineWeb")


def test_curate_with_hub_id_offline_names_the_fix(tmp_path, monkeypatch, capsys):
    from rexbert.cli.main import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["curate", "--input", "m-a-p/FineFineWeb", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass the local folder instead" in err
