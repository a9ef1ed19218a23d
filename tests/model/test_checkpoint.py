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


def test_wrapped_models_are_unwrapped(tmp_path, make_config):
    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    model = RexBertForMaskedLM(make_config())
    save_model(Wrapper(model), tmp_path)
    loaded = load_model(tmp_path)
    assert torch.equal(loaded.decoder_bias, model.decoder_bias)


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
