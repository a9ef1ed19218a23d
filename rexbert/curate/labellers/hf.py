"""Labeller on a local transformers model directory (for users with a GPU).

Two kinds of model are accepted:
- a sequence-classification model: score = softmax probability of the relevant class
  (`positive_label` in config, else an id2label name containing "relevant"/"positive"/"yes",
  else class 1);
- a causal LM: the prompt is rendered (chat template if the tokenizer has one) and the score is
  sigmoid(log p(answer "relevant") − log p(answer "not_relevant")) — classification by the
  likelihood of the two structured answers, with no sampling.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from rexbert.curate.labellers.base import CachedLabeller, Label, LabelCache, LabelItem, Prompt
from rexbert.errors import UserError

_ANSWERS = ('{"label": "relevant"', '{"label": "not_relevant"')


class HFLabeller(CachedLabeller):
    """Sequence-classification or causal-LM labeller on a local model folder."""

    backend = "hf"

    def __init__(self, options, prompt: Prompt, cache: LabelCache) -> None:
        model_dir = Path(options.model_dir)
        if not (model_dir / "config.json").is_file():
            raise UserError(f"{model_dir}: not a transformers model folder (no config.json); fix labelling.*.hf.model_dir")
        super().__init__(cache, f"hf:{model_dir.resolve()}", prompt)
        self.options = options
        self.model_dir = model_dir
        self._model = None
        self._tokenizer = None
        self._kind = None
        self._positive = 1

    def identity(self) -> str:
        """Model folder and prompt version."""
        return f"hf:{self.model_dir} prompt={self.prompt.effective_version}"

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )

        config = AutoConfig.from_pretrained(self.model_dir)
        architectures = config.architectures or []
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        if any(a.endswith("ForSequenceClassification") for a in architectures):
            self._kind = "classifier"
            self._model = AutoModelForSequenceClassification.from_pretrained(self.model_dir)
            names = {int(k): str(v).lower() for k, v in (config.id2label or {}).items()}
            wanted = (self.options.positive_label or "").lower()
            if wanted:
                matches = [i for i, n in names.items() if n == wanted]
                if not matches:
                    raise UserError(f"{self.model_dir}: positive_label {self.options.positive_label!r} is not in "
                                    f"id2label {sorted(names.values())}")
                self._positive = matches[0]
            else:
                hits = [i for i, n in names.items() if n in ("relevant", "positive", "yes", "commerce", "label_1")]
                self._positive = hits[0] if hits else min(1, config.num_labels - 1)
        elif any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in architectures):
            self._kind = "causal"
            self._model = AutoModelForCausalLM.from_pretrained(self.model_dir)
            if self._tokenizer.pad_token is None:
                self._tokenizer.pad_token = self._tokenizer.eos_token
        else:
            raise UserError(f"{self.model_dir}: architecture {architectures} is neither a sequence classifier nor a causal LM")
        self._model.to(self.options.device).eval()

    def _prompt_text(self, item: LabelItem) -> str:
        """The rendered prompt, with the few-shot examples (seed labels, audit disagreements) as earlier turns."""
        messages = [{"role": "system", "content": self.prompt.system}]
        for domain, text, label, reason in self.prompt.fewshot:
            answer = {"label": "relevant" if label else "not_relevant", "reason": reason or "audited example"}
            messages += [{"role": "user", "content": self.prompt.render_user(domain, text)},
                         {"role": "assistant", "content": json.dumps(answer)}]
        messages.append({"role": "user", "content": self.prompt.render_user(item.domain, item.text[:4000])})
        if getattr(self._tokenizer, "chat_template", None):
            return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n"

    def _classify(self, batch: Sequence[LabelItem]) -> list[float]:
        import torch

        encoded = self._tokenizer([it.text for it in batch], truncation=True, max_length=self.options.max_length,
                                  padding=True, return_tensors="pt").to(self.options.device)
        with torch.inference_mode():  # scoped: never switch autograd off for the whole process
            logits = self._model(**encoded).logits.float()
        return torch.softmax(logits, dim=-1)[:, self._positive].tolist()

    def _answer_logprob(self, prompt: str, answer: str) -> float:
        import torch

        prompt_ids = self._tokenizer(prompt, add_special_tokens=False, truncation=True,
                                     max_length=self.options.max_length)["input_ids"]
        answer_ids = self._tokenizer(answer, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + answer_ids], device=self.options.device)
        with torch.inference_mode():
            logprobs = torch.log_softmax(self._model(input_ids=ids).logits.float()[0], dim=-1)
        start = len(prompt_ids)
        return float(sum(logprobs[start - 1 + i, tok] for i, tok in enumerate(answer_ids)))

    def _label_missing(self, items: Sequence[LabelItem], on_label: Callable[..., None]) -> None:
        self._load()
        size = self.options.batch_size
        for start in tqdm(range(0, len(items), size), desc="labelling (hf)", unit="batch"):
            batch = items[start:start + size]
            if self._kind == "classifier":
                scores = self._classify(batch)
                for item, score in zip(batch, scores, strict=True):
                    on_label(Label(item.id, score > 0.5, float(score), f"classifier p(relevant)={score:.2f}"), 0, 0)
            else:
                for item in batch:
                    prompt = self._prompt_text(item)
                    margin = self._answer_logprob(prompt, _ANSWERS[0]) - self._answer_logprob(prompt, _ANSWERS[1])
                    score = 1.0 / (1.0 + math.exp(-max(min(margin, 50.0), -50.0)))
                    on_label(Label(item.id, score > 0.5, score, f"answer log-odds {margin:+.2f}"), 0, 0)
