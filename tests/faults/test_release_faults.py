"""Faults of the release stage (and of loading what it writes): a user's folder is never
overwritten, damaged or non-finite weights are refused with one line by every loader, exported
folders get normal permissions, and hub ids resolve through the local hub cache only."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch

from rexbert.cli.main import main
from rexbert.model.checkpoint import WEIGHTS_FILE, save_model, write_manifest
from rexbert.model.config import ModelConfig
from rexbert.model.modeling import RexBertForMaskedLM

WORDS = "red blue cotton silk shirt dress shoes watch for men women with and the a of size pack".split()


def build_tokenizer(folder: Path) -> None:
    """An AutoTokenizer-loadable word-level tokenizer ([CLS] text [SEP]) with a [MASK] token."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]",
                            cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                            model_max_length=512).save_pretrained(str(folder))


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A training-style checkpoint: weights, config, tokenizer/ and checkpoint.json checksums."""
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=32, hidden_size=32, intermediate_size=24, num_layers=2, num_heads=2,
                      local_attention_window=4, global_attn_every_n_layers=2,
                      max_position_embeddings=128, pad_token_id=0, cls_token_id=2, sep_token_id=3,
                      mask_token_id=4)
    build_tokenizer(tmp_path / "tok")
    path = tmp_path / "run" / "checkpoint-10"
    save_model(RexBertForMaskedLM(cfg), path, tokenizer_dir=tmp_path / "tok")
    write_manifest(path, {"step": 10})
    return path


def bit_rot(path: Path) -> None:
    """Flip the bits of one byte in the tensor data of a safetensors file (same size)."""
    data = bytearray(path.read_bytes())
    header = int.from_bytes(data[:8], "little")
    position = 8 + header + (len(data) - 8 - header) // 2
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def put_nan(path: Path, name: str) -> None:
    """Rewrite a safetensors file with NaN in the first element of tensor `name`."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("nan")
    save_file(tensors, str(path), metadata={"format": "pt"})


def error_line(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_import_hf_refuses_a_folder_it_did_not_create(tmp_path, checkpoint, capsys):
    exported = tmp_path / "hf"
    assert main(["export", "--model", str(checkpoint), "--out", str(exported)]) == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / WEIGHTS_FILE).write_bytes(b"the user's own weights")
    err = error_line(capsys, ["import-hf", "--model", str(exported), "--out", str(mine)])
    assert "not empty and not written by rexbert" in err
    assert (mine / WEIGHTS_FILE).read_bytes() == b"the user's own weights"
    assert sorted(p.name for p in mine.iterdir()) == [WEIGHTS_FILE]
    # Its own earlier import is replaced only when asked.
    again = tmp_path / "ckpt"
    assert main(["import-hf", "--model", str(exported), "--out", str(again)]) == 0
    assert "already holds a rexbert checkpoint" in error_line(
        capsys, ["import-hf", "--model", str(exported), "--out", str(again)])
    assert main(["import-hf", "--model", str(exported), "--out", str(again), "--overwrite"]) == 0
    (again / "notes.txt").write_text("user notes")
    assert "notes.txt: not written by rexbert" in error_line(
        capsys, ["import-hf", "--model", str(exported), "--out", str(again), "--overwrite"])
    assert (again / "notes.txt").read_text() == "user notes"


def test_bit_rot_in_a_checkpoint_is_refused_by_every_loader(tmp_path, checkpoint, capsys):
    exported = tmp_path / "hf"
    assert main(["export", "--model", str(checkpoint), "--out", str(exported)]) == 0
    bit_rot(checkpoint / WEIGHTS_FILE)
    for argv in (["export", "--model", str(checkpoint), "--out", str(tmp_path / "again")],
                 ["fill-mask", "--model", str(checkpoint), "red [MASK] shirt"]):
        err = error_line(capsys, argv)
        assert f"{checkpoint}: {WEIGHTS_FILE} does not match its checksum" in err
    assert not (tmp_path / "again").exists()
    # The export carries checksums of its own: evaluate, fill-mask and import-hf check them.
    bit_rot(exported / WEIGHTS_FILE)
    data = tmp_path / "texts.jsonl"
    data.write_text(json.dumps({"text": "red cotton shirt for men"}) + "\n")
    for argv in (["evaluate", "mlm", "--model", str(exported), "--input", str(data), "--out",
                  str(tmp_path / "eval")],
                 ["fill-mask", "--model", str(exported), "red [MASK] shirt"],
                 ["import-hf", "--model", str(exported), "--out", str(tmp_path / "imported")]):
        err = error_line(capsys, argv)
        assert f"{exported}: {WEIGHTS_FILE} does not match its checksum" in err


def test_garbage_weights_in_an_export_are_one_line_in_evaluate(tmp_path, checkpoint, capsys):
    exported = tmp_path / "hf"
    assert main(["export", "--model", str(checkpoint), "--out", str(exported)]) == 0
    (exported / "checkpoint.json").unlink()  # as if copied without it: no checksums to compare
    (exported / WEIGHTS_FILE).write_bytes(b"\x00" * 64)
    data = tmp_path / "texts.jsonl"
    data.write_text(json.dumps({"text": "red cotton shirt for men"}) + "\n")
    err = error_line(capsys, ["evaluate", "mlm", "--model", str(exported), "--input", str(data),
                              "--out", str(tmp_path / "eval")])
    assert str(exported) in err and "corrupt" in err and "SafetensorError" not in err


def test_nan_weights_are_refused(tmp_path, checkpoint, capsys):
    exported = tmp_path / "hf"
    assert main(["export", "--model", str(checkpoint), "--out", str(exported)]) == 0
    (checkpoint / "checkpoint.json").unlink()  # no checksums: the finite check still holds
    put_nan(checkpoint / WEIGHTS_FILE, "model.layers.1.mlp.Wo.weight")
    err = error_line(capsys, ["export", "--model", str(checkpoint), "--out", str(tmp_path / "x")])
    assert "model.layers.1.mlp.Wo.weight holds 1 NaN/Inf value(s)" in err
    assert "NaN/Inf" in error_line(capsys, ["fill-mask", "--model", str(checkpoint), "a [MASK]"])
    (exported / "checkpoint.json").unlink()
    put_nan(exported / WEIGHTS_FILE, "model.layers.1.mlp.Wo.weight")
    data = tmp_path / "texts.jsonl"
    data.write_text(json.dumps({"text": "red cotton shirt for men"}) + "\n")
    for argv in (["import-hf", "--model", str(exported), "--out", str(tmp_path / "y")],
                 ["evaluate", "mlm", "--model", str(exported), "--input", str(data), "--out",
                  str(tmp_path / "eval")]):
        assert "NaN/Inf" in error_line(capsys, argv)


def test_exported_and_imported_folders_have_normal_permissions(tmp_path, checkpoint):
    umask = os.umask(0o022)
    try:
        exported, imported = tmp_path / "hf", tmp_path / "ckpt"
        assert main(["export", "--model", str(checkpoint), "--out", str(exported)]) == 0
        assert main(["import-hf", "--model", str(exported), "--out", str(imported)]) == 0
    finally:
        os.umask(umask)
    for folder in (exported, exported / "1_Pooling", imported, imported / "tokenizer"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
    assert stat.S_IMODE((exported / WEIGHTS_FILE).stat().st_mode) == 0o644


def fake_hub_cache(root: Path, hub_id: str, source: Path) -> Path:
    """The layout huggingface_hub's cache has: refs/main names a commit, whose snapshot folder
    holds links to content-addressed blobs."""
    import hashlib

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = root / f"models--{hub_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    for item in sorted(source.rglob("*")):
        if not item.is_file() or item.name.startswith("."):
            continue
        blob = repo / "blobs" / hashlib.sha256(item.read_bytes()).hexdigest()
        blob.write_bytes(item.read_bytes())
        link = snapshot / item.relative_to(source)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def test_hub_ids_resolve_through_the_local_hub_cache(tmp_path, checkpoint, capsys, monkeypatch):
    exported = tmp_path / "hf"
    assert main(["export", "--model", str(checkpoint), "--out", str(exported)]) == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    snapshot = fake_hub_cache(tmp_path / "hub", "acme/tiny-modernbert", exported)
    imported = tmp_path / "ckpt"
    assert main(["import-hf", "--model", "acme/tiny-modernbert", "--out", str(imported)]) == 0
    assert (imported / "tokenizer" / "tokenizer.json").is_file()
    capsys.readouterr()
    assert main(["fill-mask", "--model", "acme/tiny-modernbert", "--json", "red [MASK] shirt"]) == 0
    from_hub = json.loads(capsys.readouterr().out)
    assert main(["fill-mask", "--model", str(exported), "--json", "red [MASK] shirt"]) == 0
    assert from_hub == json.loads(capsys.readouterr().out)
    data = tmp_path / "texts.jsonl"
    data.write_text(json.dumps({"text": "red cotton shirt for men with shoes"}) + "\n")
    assert main(["evaluate", "mlm", "--model", "acme/tiny-modernbert", "--input", str(data),
                 "--block-sizes", "16", "--out", str(tmp_path / "eval")]) == 0
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["models"]["tiny-modernbert"]["source"].startswith("hub:acme/tiny-modernbert (")
    assert str(snapshot) in results["models"]["tiny-modernbert"]["source"]
    # Offline and not in the cache: one line saying so and how to get it.
    for argv in (["import-hf", "--model", "acme/missing", "--out", str(tmp_path / "m")],
                 ["evaluate", "mlm", "--model", "acme/missing", "--input", str(data), "--out",
                  str(tmp_path / "m")],
                 ["fill-mask", "--model", "acme/missing", "a [MASK]"]):
        err = error_line(capsys, argv)
        assert "--model acme/missing: not a local folder and not in the local hub cache" in err
        assert "HF_HUB_OFFLINE" in err and "hf download acme/missing" in err
    assert not (tmp_path / "m").exists()
