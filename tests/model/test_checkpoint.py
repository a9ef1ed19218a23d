"""save_model / load_model: round trip, atomic layout, and clear errors for bad directories."""

import json

import pytest
import torch

from rexbert.errors import UserError
from rexbert.model.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_model, save_model
from rexbert.model.modeling import RexBertForMaskedLM


def test_round_trip_gives_identical_outputs(tmp_path, make_config, make_packed, perturb):
    torch.manual_seed(0)
    model = RexBertForMaskedLM(make_config(rope_ntk_factor=2.0)).eval()
    perturb(model)
    tokenizer = tmp_path / "tok"
    tokenizer.mkdir()
    (tokenizer / "tokenizer.json").write_text("{}")
    save_model(model, tmp_path / "ckpt", tokenizer_dir=tokenizer)
    assert (tmp_path / "ckpt" / "tokenizer" / "tokenizer.json").read_text() == "{}"
    loaded = load_model(tmp_path / "ckpt").eval()
    assert loaded.config == model.config
    ids, cu, max_len = make_packed([20, 9], model.config.vocab_size)
    with torch.no_grad():
        assert torch.equal(model(ids, cu, max_len).logits, loaded(ids, cu, max_len).logits)


def test_tied_decoder_is_stored_once(tmp_path, make_config):
    from safetensors import safe_open

    save_model(RexBertForMaskedLM(make_config()), tmp_path)
    with safe_open(str(tmp_path / WEIGHTS_FILE), "pt") as handle:
        names = set(handle.keys())
    assert "model.embeddings.tok_embeddings.weight" in names
    assert "decoder_bias" in names
    assert not any(name.startswith("decoder.") for name in names)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["vocab_size"] == 97


def test_wrapped_models_are_unwrapped(tmp_path, make_config, perturb):
    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    model = RexBertForMaskedLM(make_config())
    perturb(model)  # the decoder bias and norms start at zero / one: make them differ from a fresh model
    save_model(Wrapper(model), tmp_path)
    loaded = load_model(tmp_path)
    assert model.decoder_bias.abs().sum() > 0
    expected = model.state_dict()
    assert loaded.state_dict().keys() == expected.keys()
    assert all(torch.equal(tensor, expected[name]) for name, tensor in loaded.state_dict().items())
    assert not torch.equal(RexBertForMaskedLM(make_config()).decoder_bias, loaded.decoder_bias)


def test_missing_directory_or_config(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_model(tmp_path / "nope")
    with pytest.raises(UserError, match="not a rexbert checkpoint"):
        load_model(tmp_path)


def test_corrupt_safetensors_is_a_clear_error(tmp_path, make_config):
    save_model(RexBertForMaskedLM(make_config()), tmp_path)
    weights = tmp_path / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:100])  # truncated download
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_model(tmp_path)
    weights.write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match=WEIGHTS_FILE):
        load_model(tmp_path)


def test_config_that_does_not_match_weights(tmp_path, make_config):
    save_model(RexBertForMaskedLM(make_config()), tmp_path)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["intermediate_size"] = 64
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(UserError, match="shape"):
        load_model(tmp_path)
    config["num_layers"] = 7
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(UserError, match="missing"):
        load_model(tmp_path)


def test_invalid_config_names_the_key(tmp_path, make_config):
    save_model(RexBertForMaskedLM(make_config()), tmp_path)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["num_heads"] = 5  # 48 is not divisible by 5
    config["hiden_size"] = 1
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(UserError, match="hiden_size"):
        load_model(tmp_path)


def test_manifest_checks_catch_same_size_damage(tmp_path, make_config):
    from rexbert.model.checkpoint import MANIFEST, verify_checkpoint, write_manifest

    save_model(RexBertForMaskedLM(make_config()), tmp_path)
    assert verify_checkpoint(tmp_path) == f"no {MANIFEST} (partial write)"
    write_manifest(tmp_path, {"step": 3})
    assert verify_checkpoint(tmp_path) is None
    assert json.loads((tmp_path / MANIFEST).read_text())["step"] == 3
    load_model(tmp_path)  # intact: loads
    weights = tmp_path / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x01  # one bit of one weight, same size
    weights.write_bytes(bytes(data))
    assert verify_checkpoint(tmp_path) == f"{WEIGHTS_FILE} does not match its checksum (corrupt)"
    assert verify_checkpoint(tmp_path, files=lambda rel: rel == CONFIG_FILE) is None
    with pytest.raises(UserError, match=rf"{WEIGHTS_FILE} does not match its checksum .* {MANIFEST}"):
        load_model(tmp_path)
    weights.write_bytes(bytes(data[:-1]))
    assert "(truncated)" in verify_checkpoint(tmp_path)
    (tmp_path / MANIFEST).write_text('{"files": 3}')
    assert verify_checkpoint(tmp_path) == f"{MANIFEST} is damaged (no files with size and sha256)"


def test_non_finite_weights_are_refused_without_a_manifest(tmp_path, make_config):
    from safetensors.torch import load_file, save_file

    save_model(RexBertForMaskedLM(make_config()), tmp_path)
    tensors = load_file(str(tmp_path / WEIGHTS_FILE))
    tensors["decoder_bias"][[2, 5]] = torch.tensor([float("inf"), float("nan")])
    save_file(tensors, str(tmp_path / WEIGHTS_FILE))
    with pytest.raises(UserError, match="weight decoder_bias holds 2 NaN/Inf value"):
        load_model(tmp_path)


def test_model_folders_and_hub_ids(tmp_path, monkeypatch):
    from rexbert.model.checkpoint import looks_like_hub_id, make_staging_dir, resolve_model_dir

    assert resolve_model_dir(tmp_path) == tmp_path
    assert looks_like_hub_id("answerdotai/ModernBERT-base")
    assert not looks_like_hub_id(str(tmp_path)) and not looks_like_hub_id("a/b/c")
    with pytest.raises(UserError, match="--model nope/x/y: model folder not found"):
        resolve_model_dir("nope/x/y")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(UserError, match=r"^--model acme/none: not a local folder and not in the local "
                                        r"hub cache .*HF_HUB_OFFLINE is set; .*hf download acme/none"):
        resolve_model_dir("acme/none")
    import os
    import stat

    umask = os.umask(0o022)
    try:
        staging = make_staging_dir(tmp_path / "parent", ".x.")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(staging.stat().st_mode) == 0o755
