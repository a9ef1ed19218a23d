"""export / import-hf / fill-mask against transformers and sentence-transformers themselves."""

import json
import logging
import warnings

import pytest
import torch

from rexbert.cli.main import main
from rexbert.model.checkpoint import load_model


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _load_quietly(loader, folder):
    """Load with transformers' warnings captured; return (model, warning texts)."""
    handler = _Records()
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = loader(str(folder))
    finally:
        hf_logger.removeHandler(handler)
    return model, handler.messages + [str(w.message) for w in caught]


def _texts_batch(tokenizer):
    texts = [
        "red cotton shirt for men slim fit casual",
        "watch",
        "blue silk dress for women with leather shoes and a steel watch set of small size",
        "phone case",
    ]
    return texts, tokenizer(texts, padding=True, return_tensors="pt")


@pytest.fixture
def exported(tmp_path, checkpoint):
    out = tmp_path / "hf"
    assert main(["export", "--model", str(checkpoint), "--out", str(out)]) == 0
    return out


def test_export_loads_in_transformers_and_matches_logits(exported, checkpoint):
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

    hf, messages = _load_quietly(AutoModelForMaskedLM.from_pretrained, exported)
    assert messages == []  # no missing / unexpected weights, no config warnings
    base, base_messages = _load_quietly(AutoModel.from_pretrained, exported)
    report = "\n".join(base_messages)
    # The encoder alone has no MLM head: transformers lists the head as unused, nothing missing.
    assert "MISSING" not in report
    assert "UNEXPECTED" in report  # proves the capture works (so the empty list above means no warning)
    for line in report.splitlines():
        if "UNEXPECTED" in line and "|" in line:
            assert line.split("|")[0].strip() in {"head.dense.weight", "head.norm.weight", "decoder.bias"}

    ours = load_model(checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(exported))
    _, batch = _texts_batch(tokenizer)
    mask = batch["attention_mask"].bool()
    assert batch["input_ids"].shape[1] > ours.config.local_attention_window  # window is exercised
    with torch.no_grad():
        expected = ours.forward_padded(batch["input_ids"], batch["attention_mask"])
        got = hf.eval()(**batch).logits
        hidden = base.eval()(**batch).last_hidden_state
    assert (got - expected.logits)[mask].abs().max() <= 1e-4
    assert (hidden - expected.hidden_states)[mask].abs().max() <= 1e-4


def test_export_loads_in_sentence_transformers_with_mean_pooling(exported, checkpoint):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    st = SentenceTransformer(str(exported), device="cpu")
    ours = load_model(checkpoint).eval()
    texts, batch = _texts_batch(AutoTokenizer.from_pretrained(str(exported)))
    embeddings = st.encode(texts, convert_to_tensor=True, batch_size=len(texts))
    with torch.no_grad():
        hidden = ours.forward_padded(batch["input_ids"], batch["attention_mask"]).hidden_states
    weights = batch["attention_mask"].unsqueeze(-1).float()
    expected = (hidden * weights).sum(1) / weights.sum(1)
    assert embeddings.shape == (4, ours.config.hidden_size)
    assert (embeddings - expected).abs().max() <= 1e-4


def test_export_writes_mean_pooling_and_a_card(tmp_path, checkpoint):
    out = tmp_path / "card"
    assert main(["export", "--model", str(checkpoint), "--out", str(out)]) == 0
    card = (out / "README.md").read_text()
    assert "28,528" in card and "its training is unknown" in card  # a bare checkpoint: no run around it
    assert json.loads((out / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"] is True


def test_import_round_trip_gives_identical_logits(tmp_path, exported):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    ckpt = tmp_path / "imported"
    again = tmp_path / "hf_again"
    assert main(["import-hf", "--model", str(exported), "--out", str(ckpt)]) == 0
    assert (ckpt / "tokenizer" / "tokenizer.json").is_file()
    assert main(["export", "--model", str(ckpt), "--out", str(again)]) == 0
    first = AutoModelForMaskedLM.from_pretrained(str(exported)).eval()
    second = AutoModelForMaskedLM.from_pretrained(str(again)).eval()
    _, batch = _texts_batch(AutoTokenizer.from_pretrained(str(again)))
    with torch.no_grad():
        assert torch.equal(first(**batch).logits, second(**batch).logits)


@pytest.mark.parametrize("text", ["red cotton [MASK] for men", "[MASK] silk dress with [MASK] shoes"])
def test_fill_mask_matches_transformers_pipeline(exported, checkpoint, capsys, text):
    from transformers import pipeline

    reference = pipeline("fill-mask", model=str(exported), device="cpu")(text, top_k=4)
    for source in (checkpoint, exported):  # rexbert checkpoint, and the HF folder imported in memory
        capsys.readouterr()
        assert main(["fill-mask", "--model", str(source), "--top-k", "4", "--json", text]) == 0
        ours = json.loads(capsys.readouterr().out)
        flat_ours = ours if isinstance(ours[0], list) else [ours]
        flat_ref = reference if isinstance(reference[0], list) else [reference]
        for row_ours, row_ref in zip(flat_ours, flat_ref, strict=True):
            assert [c["token"] for c in row_ours] == [c["token"] for c in row_ref]
            assert [c["sequence"] for c in row_ours] == [c["sequence"] for c in row_ref]
            for a, b in zip(row_ours, row_ref, strict=True):
                assert abs(a["score"] - b["score"]) <= 1e-4


def test_fill_mask_plain_output(checkpoint, capsys):
    assert main(["fill-mask", "--model", str(checkpoint), "--top-k", "2", "red [MASK] shirt"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("red" in line for line in lines)


def _error(capsys, argv):
    capsys.readouterr()
    assert main(argv) == 2
    return capsys.readouterr().err


def test_clear_errors(tmp_path, checkpoint, exported, capsys):
    bare = tmp_path / "bare"
    from rexbert.model.checkpoint import save_model

    save_model(load_model(checkpoint), bare)  # no tokenizer
    assert "--tokenizer" in _error(capsys, ["export", "--model", str(bare), "--out", str(tmp_path / "x")])
    assert "already holds a rexbert export; pass --overwrite" in _error(
        capsys, ["export", "--model", str(checkpoint), "--out", str(exported)])
    assert "--checkpoint is now --model" in _error(
        capsys, ["export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "x")])

    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 32}))
    err = _error(capsys, ["import-hf", "--model", str(bert), "--out", str(tmp_path / "y")])
    assert "not 'modernbert'" in err and err.count("\n") == 1

    (exported / "model.safetensors").write_bytes(b"garbage" * 10)
    err = _error(capsys, ["import-hf", "--model", str(exported), "--out", str(tmp_path / "z")])
    assert "model.safetensors has 70 bytes" in err and "checkpoint.json" in err
    (exported / "checkpoint.json").unlink()  # no checksums: the weights reader's error, one line
    err = _error(capsys, ["import-hf", "--model", str(exported), "--out", str(tmp_path / "z")])
    assert "corrupt" in err and "model.safetensors" in err and err.count("\n") == 1

    assert "no [MASK]" in _error(capsys, ["fill-mask", "--model", str(checkpoint), "no mask here"])
    assert "neither" in _error(capsys, ["fill-mask", "--model", str(tmp_path), "a [MASK]"])


def test_python_entry_points_return_their_outputs(tmp_path, checkpoint):
    from rexbert import export, fill_mask, import_hf
    from rexbert.model.config import count_parameters
    from rexbert.release.api import ExportConfig, FillMaskConfig

    exported = export(checkpoint, tmp_path / "hf", ExportConfig(sentence_max_length=64))
    assert exported.weights.is_file() and exported.model_card.is_file() and exported.manifest.is_file()
    assert exported.parameters == count_parameters(load_model(checkpoint).config)
    assert json.loads((exported.out / "sentence_bert_config.json").read_text())["max_seq_length"] == 64
    imported = import_hf(exported.out, tmp_path / "imported")
    assert imported.tokenizer == tmp_path / "imported" / "tokenizer" and imported.hub_id is None
    assert imported.config.is_file()
    top = fill_mask(imported.out, "red cotton [MASK] for men", FillMaskConfig(top_k=2))
    assert len(top) == 2 and top == fill_mask(exported.out, "red cotton [MASK] for men",
                                              FillMaskConfig(top_k=2))
