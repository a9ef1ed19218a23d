"""rexbert's packed `encode` equals sentence-transformers on the exported folder."""

import torch

from rexbert.cli.main import main
from rexbert.model.checkpoint import load_model
from rexbert.model.embed import encode


def test_encode_matches_sentence_transformers(tmp_path, checkpoint):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    out = tmp_path / "hf"
    assert main(["export", "--model", str(checkpoint), "--out", str(out)]) == 0
    texts = ["red shirt", "blue silk dress for women with leather shoes and a steel watch",
             "watch", "slim fit jeans for men", "phone case with a smart steel set of small size"]
    expected = SentenceTransformer(str(out), device="cpu").encode(texts, convert_to_tensor=True)
    # A small token budget forces several packed batches and a reordering by length.
    got = encode(load_model(checkpoint).eval(), AutoTokenizer.from_pretrained(str(out)), texts,
                 tokens_per_batch=20)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-4
    assert not torch.allclose(got[0], got[1])
