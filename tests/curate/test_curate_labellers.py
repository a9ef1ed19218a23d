"""Labellers: lexicon, embedding (the shipped MiniLM), openai against a local server, hf on a tiny model."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rexbert.curate.config import EmbeddingOptions, HFOptions, LexiconOptions, OpenAIOptions
from rexbert.curate.labellers.base import LabelCache, LabelItem, load_prompt
from rexbert.curate.labellers.lexicon import LexiconLabeller
from rexbert.curate.labellers.openai_chat import OpenAIChatLabeller, parse_answer
from rexbert.errors import UserError

COMMERCE = LabelItem("c1", "hobby", "Buy this camera on sale: price 199 dollars, free shipping, add to cart today.")
NEWS = LabelItem("n1", "news", "The council met on Tuesday to discuss the budget for the schools and the roads.")


class ChatServer:
    """A minimal OpenAI-compatible chat-completions server on 127.0.0.1 for tests."""

    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.fail_first = fail_first
        self.status = status
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.end_headers()
                    return
                if len(server.requests) <= server.fail_first:
                    self.send_response(server.status)
                    self.end_headers()
                    return
                user = body["messages"][-1]["content"]
                relevant = "price" in user or "cart" in user
                answer = {"label": "relevant" if relevant else "not_relevant", "reason": "mentions a price" if relevant else "civic news"}
                reply = {"choices": [{"message": {"role": "assistant", "content": json.dumps(answer)}}],
                         "usage": {"prompt_tokens": 100, "completion_tokens": 12}}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _openai(url, cache_path, **kw):
    options = OpenAIOptions(base_url=url, model="test-model", api_key_env="REXBERT_TEST_KEY", backoff_s=0.01,
                            timeout_s=5, **kw)
    return OpenAIChatLabeller(options, load_prompt("commerce_relevance_v1"), LabelCache(cache_path))


def test_prompt_file_is_versioned_and_renders():
    prompt = load_prompt("commerce_relevance_v1")
    assert prompt.version == "commerce_relevance_v1"
    assert "COMMERCE-RELEVANT" in prompt.system
    assert "Domain: news" in prompt.render_user("news", "hello")


def test_parse_answer_variants():
    assert parse_answer('{"label": "relevant", "reason": "price"}') == (True, "price")
    assert parse_answer('Sure! {"label": "not_relevant", "reason": "x"}') == (False, "x")
    assert parse_answer("not relevant: politics")[0] is False
    assert parse_answer("I cannot tell") is None


def test_openai_labels_caches_and_accounts_tokens(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("REXBERT_TEST_KEY", "sk-secret-value")
    caplog.set_level(logging.DEBUG)
    with ChatServer() as server:
        labeller = _openai(server.url, tmp_path / "cache.sqlite", concurrency=2)
        labels = labeller.label([COMMERCE, NEWS])
        assert [lab.label for lab in labels] == [True, False]
        assert labels[0].reason == "mentions a price"
        assert labeller.usage["prompt_tokens"] == 200 and labeller.usage["completion_tokens"] == 24
        first = server.requests[0]
        assert first["model"] == "test-model"
        assert first["response_format"]["type"] == "json_schema"
        assert server.headers[0]["Authorization"] == "Bearer sk-secret-value"
        # a rerun with a fresh labeller on the same cache pays nothing
        again = _openai(server.url, tmp_path / "cache.sqlite")
        assert [lab.label for lab in again.label([COMMERCE, NEWS])] == [True, False]
        assert len(server.requests) == 2 and again.usage["cached"] == 2
    assert "sk-secret-value" not in caplog.text
    assert "sk-secret-value" not in (tmp_path / "cache.sqlite").read_bytes().decode("latin-1")


def test_openai_retries_then_succeeds(tmp_path):
    with ChatServer(fail_first=2, status=503) as server:
        labeller = _openai(server.url, tmp_path / "cache.sqlite", concurrency=1, max_retries=3)
        assert labeller.label([COMMERCE])[0].label is True
        assert labeller.usage["retries"] == 2 and len(server.requests) == 3


def test_openai_server_down_is_a_clear_error_with_cached_count(tmp_path):
    with ChatServer() as server:
        _openai(server.url, tmp_path / "cache.sqlite").label([COMMERCE])  # one label cached
        url = server.url
    labeller = _openai(url, tmp_path / "cache.sqlite", max_retries=1)
    with pytest.raises(UserError) as err:
        labeller.label([COMMERCE, NEWS])
    message = str(err.value)
    assert url in message and "1 label(s) are cached" in message and "\n" not in message


def test_openai_fewshot_refinement_changes_the_cache_key(tmp_path):
    with ChatServer() as server:
        labeller = _openai(server.url, tmp_path / "cache.sqlite")
        own = labeller.label([COMMERCE, NEWS])
        reference = [own[0], type(own[1])(NEWS.id, True, 1.0, "auditor says relevant")]
        note = labeller.refine([COMMERCE, NEWS], own, reference, max_examples=2)
        assert "1 few-shot" in note and "+fewshot-" in labeller.prompt.effective_version
        labeller.label([NEWS])
        sent = server.requests[-1]["messages"]
        assert len(sent) == 4 and sent[2]["role"] == "assistant" and "relevant" in sent[2]["content"]


def test_lexicon_scores_and_refines():
    from rexbert.curate.labellers.lexicon import LexiconLabeller

    labeller = LexiconLabeller(LexiconOptions(threshold=1.0))
    labels = labeller.label([COMMERCE, NEWS])
    assert [lab.label for lab in labels] == [True, False]
    assert "price" in labels[0].reason
    # the auditor also calls a weakly commercial text relevant: refinement lowers the threshold
    weak = LabelItem("w1", "hobby", "A short note about the value of the new bakery in town and the people who work there "
                                    "on weekends and holidays with their friends.")
    labeller = LexiconLabeller(LexiconOptions(threshold=2.0))
    items = [COMMERCE, LabelItem("n2", "hobby", NEWS.text), weak]
    own = labeller.label(items)
    assert [lab.label for lab in own] == [True, False, False]
    reference = [own[0], own[1], type(own[2])("w1", True, 1.0, "store")]
    note = labeller.refine(items, own, reference, 0)
    assert note.startswith("thresholds hobby: 2.00->")
    assert [lab.label for lab in labeller.label(items)] == [True, False, True]


def test_embedding_zero_shot_with_the_shipped_model():
    from rexbert.curate.labellers.embedding import EmbeddingLabeller

    labeller = EmbeddingLabeller(EmbeddingOptions(batch_size=8, mode="prototypes"))
    labels = labeller.label([COMMERCE, NEWS])
    assert [lab.label for lab in labels] == [True, False]
    assert 0.5 < labels[0].score <= 1 and 0 <= labels[1].score < 0.5
    assert labels[0].reason.startswith("closest relevant prototype")


LISTING = LabelItem("l1", "hobby", "\n".join([
    "Wooden Train Set 52 Pieces Bridge Tunnel", "Magnetic Building Tiles 100 pcs STEM Kids 3+",
    "Remote Control Car 1:18 Off Road 2.4GHz", "Plush Unicorn Soft Toy 30cm Pink",
    "Jigsaw Puzzle 1000 Pieces Mountain Lake", "Dolls House Furniture Kitchen Set 1:12 Scale"]))
BUSINESS = LabelItem("b1", "news", "Shares in the retailer fell sharply after it warned that profits would be lower this "
                                   "year, blaming weak spending over the holidays, and the chief executive said stores "
                                   "would close and jobs would go.")


def test_embedding_head_reads_a_bare_listing_and_business_news(tmp_path):
    from sklearn.linear_model import LogisticRegression

    from rexbert.curate.labellers import embedding
    from rexbert.curate.labellers.embedding import EmbeddingLabeller, load_examples

    embedding._PROCESS_CACHE.clear()  # every embedding below is computed here, and so reaches the disk cache
    # the failure of keyword labelling: the listing names no price or "buy", the news does
    lexicon = LexiconLabeller(LexiconOptions(threshold=1.0))
    assert [lab.label for lab in lexicon.label([LISTING, BUSINESS])] != [True, False]
    labeller = EmbeddingLabeller(EmbeddingOptions(batch_size=8), tmp_path / "emb.sqlite")
    labels = labeller.label([LISTING, BUSINESS, COMMERCE, NEWS])
    assert [lab.label for lab in labels] == [True, False, True, False]
    assert labels[0].reason.startswith("head p(relevant)=")
    # the head is scikit-learn's logistic regression on the mean passage embedding
    _, examples = load_examples(None)
    keys = sorted(labeller.training)
    x, y = labeller.embed([labeller.training[k][0] for k in keys]), [labeller.training[k][1] for k in keys]
    reference = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(x, y)
    without_self_training = EmbeddingLabeller(EmbeddingOptions(batch_size=8, self_training=False))
    probs = [lab.score for lab in without_self_training.label([LISTING, BUSINESS])]
    assert probs == pytest.approx(reference.predict_proba(labeller.embed([LISTING, BUSINESS]))[:, 1].tolist(), abs=1e-6)
    assert labeller.sources["examples"] == len(examples) > 60
    # a second labeller reads the embeddings back from the disk cache instead of encoding
    embedding._PROCESS_CACHE.clear()
    again = EmbeddingLabeller(EmbeddingOptions(batch_size=8), tmp_path / "emb.sqlite")
    again._encode = None  # encoding now would fail
    assert [lab.label for lab in again.label([LISTING, BUSINESS, COMMERCE, NEWS])] == [True, False, True, False]


def test_prompt_backends_take_seed_labels_as_fewshot(tmp_path):
    with ChatServer() as server:
        labeller = _openai(server.url, tmp_path / "cache.sqlite")
        note = labeller.use_seed_labels([COMMERCE, NEWS, LISTING], [True, False, True], max_examples=2)
        assert note.startswith("took 2 seed label(s)") and "+fewshot-" in labeller.prompt.effective_version
        labeller.label([BUSINESS])
        sent = server.requests[-1]["messages"]
        assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
        assert json.loads(sent[2]["content"])["label"] == "relevant" and json.loads(sent[4]["content"])["label"] == "not_relevant"


def test_hf_sequence_classifier_on_a_tiny_random_model(tmp_path):
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    from rexbert.curate.labellers.hf import HFLabeller

    words = sorted({w.lower().strip(".:,") for it in (COMMERCE, NEWS) for w in it.text.split()})
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=2, id2label={0: "not_relevant", 1: "relevant"},
                        label2id={"not_relevant": 0, "relevant": 1})
    model_dir = tmp_path / "tiny"
    BertForSequenceClassification(config).save_pretrained(model_dir)
    fast.save_pretrained(model_dir)
    labeller = HFLabeller(HFOptions(model_dir=str(model_dir), batch_size=2), load_prompt("commerce_relevance_v1"),
                          LabelCache(tmp_path / "cache.sqlite"))
    first = labeller.label([COMMERCE, NEWS])
    assert all(0.0 <= lab.score <= 1.0 and lab.label == (lab.score > 0.5) for lab in first)
    # the second call is served from the cache with identical labels
    again = HFLabeller(HFOptions(model_dir=str(model_dir)), load_prompt("commerce_relevance_v1"),
                       LabelCache(tmp_path / "cache.sqlite"))
    assert [lab.to_dict() for lab in again.label([COMMERCE, NEWS])] == [lab.to_dict() for lab in first]
    assert again.usage["cached"] == 2 and again._model is None
    # a causal-LM prompt carries the few-shot examples (seed labels, audit disagreements) as earlier turns
    again._tokenizer = fast
    again.prompt.fewshot.append(("news", "The council met on Tuesday.", False, "civic news"))
    rendered = again._prompt_text(COMMERCE)
    answer = '{"label": "not_relevant", "reason": "civic news"}'
    assert rendered.index("The council met on Tuesday.") < rendered.index(answer) < rendered.index(COMMERCE.text)


def test_hf_rejects_a_folder_without_config(tmp_path):
    from rexbert.curate.labellers.hf import HFLabeller

    with pytest.raises(UserError, match="no config.json"):
        HFLabeller(HFOptions(model_dir=str(tmp_path)), load_prompt("commerce_relevance_v1"), LabelCache(tmp_path / "c.sqlite"))
