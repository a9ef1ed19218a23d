"""ONNX export: parity with rexbert's model at mixed lengths, int8 drift, loading by onnxruntime
and sentence-transformers, and the output-folder rules."""

import json

import numpy as np
import pytest
import torch

from rexbert.errors import UserError
from rexbert.model.checkpoint import load_model, save_model
from rexbert.model.modeling import RexBertForMaskedLM
from rexbert.release.onnx import (
    CARD_BEGIN,
    OnnxExportConfig,
    card_section,
    export_onnx,
    ort_session,
    with_card_section,
)

from .conftest import build_tokenizer, release_config

TEXTS = ["red shirt", "blue silk dress for women with leather shoes and a steel watch set of small size",
         "watch", "slim fit jeans for men", "phone case with a smart steel set for kids and boys"]


def _random_checkpoint(folder, seed: int = 0, **overrides):
    """A checkpoint with random weights, norms and bias (so nothing is trivially symmetric)."""
    torch.manual_seed(seed)
    model = RexBertForMaskedLM(release_config(**overrides))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name or "bias" in name:
                param.add_(torch.randn_like(param) * 0.2)
            else:
                param.mul_(8)  # larger weights: int8 error becomes visible, attention is not uniform
    build_tokenizer(folder / "tokenizer")
    save_model(model, folder / "ckpt", tokenizer_dir=folder / "tokenizer")
    return folder / "ckpt"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export with int8 for the module: window 4 (±2 tokens), so most inputs exceed it."""
    from rexbert import export
    from rexbert.release.api import ExportConfig

    root = tmp_path_factory.mktemp("onnx")
    checkpoint = _random_checkpoint(root)
    exported = export(checkpoint, root / "model", ExportConfig(
        onnx=OnnxExportConfig(format="onnx", quantize="int8", parity_max_length=512)))
    assert exported.onnx is not None and exported.weights.is_file()  # both formats in one folder
    return checkpoint, exported.onnx


def test_export_flags_reach_the_onnx_settings():
    from rexbert.cli.main import build_parser
    from rexbert.config.flags import build
    from rexbert.release.api import ExportConfig

    parser = build_parser()
    args = parser.parse_args(["export", "--model", "c", "--out", "o", "--format", "onnx", "--quantize",
                              "int8", "--parity-max-length", "64", "--no-onnx-fill-mask"])
    sub = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    cfg = build(ExportConfig, args, sub.choices["export"])
    assert (cfg.onnx.format, cfg.onnx.quantize, cfg.onnx.parity_max_length, cfg.onnx.fill_mask) == \
        ("onnx", "int8", 64, False)


def _padded(lengths, vocab, left=False, seed=1):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        span = slice(max(lengths) - n, None) if left else slice(0, n)
        ids[row, span] = torch.randint(5, vocab, (n,), generator=generator)
        mask[row, span] = 1
    return ids, mask


@pytest.mark.parametrize("left", [False, True])
def test_fp32_graph_matches_rexbert_at_mixed_lengths(exported, left):
    checkpoint, result = exported
    model = load_model(checkpoint).eval()
    assert model.config.local_attention_window // 2 < 30  # the window is smaller than the inputs
    session = ort_session(result.encoder)
    for lengths in ([1, 3, 7, 30, 77], [2, 6], [512]):  # band-mask branch, chunked branch, maximum
        ids, mask = _padded(lengths, model.config.vocab_size, left=left)
        hidden, pooled = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        for row, n in enumerate(lengths):
            real = mask[row].bool()
            with torch.no_grad():  # rexbert's packed model, one document at a time
                expected = model.model(ids[row][real], torch.tensor([0, n], dtype=torch.int32), n)
            assert np.abs(hidden[row][real.numpy()] - expected.numpy()).max() <= 1e-4
            assert np.abs(pooled[row] - expected.mean(0).numpy()).max() <= 1e-4
            assert np.abs(hidden[row][~real.numpy()]).max(initial=0) == 0  # padding is zero


def test_fill_mask_graph_matches_rexbert_logits(exported):
    checkpoint, result = exported
    model = load_model(checkpoint).eval()
    ids, mask = _padded([4, 19, 40], model.config.vocab_size)
    logits = ort_session(result.fill_mask).run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    with torch.no_grad():
        expected = model.forward_padded(ids, mask).logits
    real = mask.bool().numpy()
    assert logits.shape == tuple(expected.shape)
    assert np.abs(logits[real] - expected.numpy()[real]).max() <= 1e-4 * max(1.0, float(expected.abs().max()))


def test_export_report_and_card_carry_parity_and_int8_drift(exported):
    _, result = exported
    report = json.loads(result.report.read_text())
    parity = report["parity_fp32"]
    assert parity["last_hidden_state"] <= 1e-4 and parity["sentence_embedding"] <= 1e-4
    assert parity["longest_input"] == 512 and min(parity["lengths"]) <= 3  # both branches checked
    drift = report["int8_drift"]
    assert drift == result.drift
    assert 0.9 < drift["embedding_cosine_min"] < 1.0  # int8 moved the embeddings, a little
    assert drift["spearman_change"] == pytest.approx(drift["spearman_int8"] - drift["spearman_fp32"])
    assert drift["top1_recovery_change"] == pytest.approx(drift["top1_recovery_int8"] - drift["top1_recovery_fp32"])
    card = (result.out / "README.md").read_text()
    assert card.count(CARD_BEGIN) == 1 and f"{drift['embedding_cosine_mean']:.4f}" in card
    assert "## ONNX" in card and "model_qint8.onnx" in card


def test_int8_graph_loads_and_stays_close_to_fp32(exported):
    from transformers import AutoTokenizer

    _, result = exported
    tokenizer = AutoTokenizer.from_pretrained(str(result.out))
    batch = tokenizer(TEXTS, padding=True, return_tensors="np")
    feed = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    fp32 = ort_session(result.encoder).run(["sentence_embedding"], feed)[0]
    int8 = ort_session(result.encoder_int8).run(["sentence_embedding"], feed)[0]
    cosine = (fp32 * int8).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(int8, axis=1)
    assert cosine.min() > 0.95
    assert not np.allclose(fp32, int8, atol=1e-6)  # it is a different (quantized) graph


def test_onnx_graph_gives_sentence_transformers_embeddings(exported):
    """What sentence-transformers' ONNX backend reads: onnx/model.onnx with input_ids and
    attention_mask in, last_hidden_state out, pooled by the folder's Pooling module. The graph's
    own pooled output equals sentence-transformers (torch) on the same folder."""
    from sentence_transformers import SentenceTransformer

    _, result = exported
    st = SentenceTransformer(str(result.out), device="cpu")
    expected = st.encode(TEXTS, convert_to_numpy=True)
    session = ort_session(result.out / "onnx" / "model.onnx")
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    assert "last_hidden_state" in [o.name for o in session.get_outputs()]
    batch = st.tokenizer(TEXTS, padding=True, return_tensors="np")
    pooled = session.run(["sentence_embedding"], {"input_ids": batch["input_ids"],
                                                  "attention_mask": batch["attention_mask"]})[0]
    assert np.abs(pooled - expected).max() <= 1e-4


def test_sentence_transformers_onnx_backend_loads_the_folder(exported):
    pytest.importorskip(
        "optimum.onnxruntime",
        reason="sentence-transformers' ONNX backend needs optimum-onnx, whose releases so far "
               "require transformers < 4.58 (not installable beside transformers 5)")
    from sentence_transformers import SentenceTransformer

    _, result = exported
    torch_model = SentenceTransformer(str(result.out), device="cpu")
    onnx_model = SentenceTransformer(str(result.out), device="cpu", backend="onnx",
                                     model_kwargs={"file_name": "onnx/model.onnx"})
    assert np.abs(onnx_model.encode(TEXTS) - torch_model.encode(TEXTS)).max() <= 1e-4


@pytest.mark.slow
def test_parity_on_another_random_config(tmp_path):
    """More heads, global every third layer, NTK-scaled RoPE, window 8: exported and checked."""
    checkpoint = _random_checkpoint(tmp_path, seed=3, num_heads=4, global_attn_every_n_layers=3,
                                    local_attention_window=8, rope_ntk_factor=2.0, num_layers=3,
                                    max_position_embeddings=256)
    result = export_onnx(checkpoint, tmp_path / "model",
                         OnnxExportConfig(format="onnx", fill_mask=False, parity_max_length=256))
    assert result.fill_mask is None and result.encoder_int8 is None
    assert result.parity["last_hidden_state"] <= 1e-4 and result.parity["longest_input"] == 256
    model = load_model(checkpoint).eval()
    ids, mask = _padded([200, 13], model.config.vocab_size, seed=4)
    hidden = ort_session(result.encoder).run(["last_hidden_state"], {"input_ids": ids.numpy(),
                                                                      "attention_mask": mask.numpy()})[0]
    with torch.no_grad():
        expected = model.forward_padded(ids, mask).hidden_states
    assert np.abs(hidden - expected.numpy()).max() <= 1e-4


def test_a_failed_parity_check_writes_nothing(exported, tmp_path, monkeypatch):
    import rexbert.release.onnx as onnx_export

    checkpoint, result = exported

    def reuse_graphs(model, staging, cfg):  # the module's graphs, instead of tracing again
        (staging / "model.onnx").write_bytes(result.encoder.read_bytes())
        return {"encoder": staging / "model.onnx"}

    monkeypatch.setattr(onnx_export, "_write_graphs", reuse_graphs)
    with pytest.raises(UserError, match="parity check failed"):
        export_onnx(checkpoint, tmp_path / "model", OnnxExportConfig(format="onnx", parity_tolerance=1e-12))
    assert not (tmp_path / "model").exists()


def test_output_folder_rules(exported, tmp_path):
    checkpoint, result = exported
    cfg = OnnxExportConfig(format="onnx")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a rexbert export"):
        export_onnx(checkpoint, foreign, cfg)
    with pytest.raises(UserError, match="--overwrite"):
        export_onnx(checkpoint, result.out, cfg)  # in place, onnx/ already there
    with pytest.raises(UserError, match="checkpoint itself"):
        export_onnx(checkpoint, checkpoint, cfg)
    with pytest.raises(UserError, match="neither a rexbert checkpoint"):
        export_onnx(foreign, tmp_path / "out", cfg)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_card_section_is_replaced_not_repeated(exported):
    _, result = exported
    report = json.loads(result.report.read_text())
    card = "# model\n\nintro\n"
    once = with_card_section(card, card_section(report))
    twice = with_card_section(once, card_section(report))
    assert once == twice and once.startswith("# model\n\nintro\n")
