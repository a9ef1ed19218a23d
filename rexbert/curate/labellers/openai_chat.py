"""Labeller for any OpenAI-compatible chat-completions server (vLLM, TGI, Ollama, llama.cpp).

Requests go to `{base_url}/chat/completions` with the versioned prompt, asking for structured
output `{"label": "relevant" | "not_relevant", "reason": ...}` (json_schema response format,
with a lenient parser for servers that ignore it). Concurrency is bounded by a thread pool;
failed requests are retried with exponential backoff; every finished label is committed to the
cache at once. The API key is read from an environment variable and never logged or stored.

An answer that holds no label is asked again (it counts as a retry); a document whose answers
never parse gets an *unparsed* placeholder (`is_unparsed`), counted in `usage["unparseable"]`,
not cached, and left out of the training labels: it is not a "not relevant" judgement.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from tqdm import tqdm

from rexbert.curate.labellers.base import CachedLabeller, Label, LabelCache, LabelItem, Prompt
from rexbert.errors import UserError

log = logging.getLogger(__name__)

RESPONSE_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "commerce_relevance",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "label": {"type": "string", "enum": ["relevant", "not_relevant"]},
                "reason": {"type": "string"},
            },
            "required": ["label", "reason"],
            "additionalProperties": False,
        },
    },
}
_RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


UNPARSED = "unparsed answer"


def unparsed_label(item_id: str, detail: str) -> Label:
    """The placeholder of a document whose answers never held a label (no judgement made)."""
    return Label(item_id, False, 0.0, f"{UNPARSED}: {detail}")


def is_unparsed(label: Label) -> bool:
    """Whether `label` is such a placeholder (also after the audit marked it `audited: ...`)."""
    return label.reason.removeprefix("audited: ").startswith(UNPARSED)


class ServerUnavailable(Exception):
    """The server did not give a usable answer after all retries."""


def parse_answer(content: str) -> tuple[bool, str] | None:
    """(label, reason) from a model answer, or None if it holds no recognisable label."""
    match = re.search(r"\{.*\}", content, re.DOTALL)
    if match:
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "label" in obj:
            value = obj["label"]
            reason = str(obj.get("reason", ""))[:300]
            if isinstance(value, bool):
                return value, reason
            text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
            if text in ("relevant", "commerce_relevant", "yes", "true"):
                return True, reason
            if text in ("not_relevant", "irrelevant", "no", "false"):
                return False, reason
    lowered = content.strip().lower()
    if re.match(r"^(not[_ ]relevant|irrelevant|no)\b", lowered):
        return False, content.strip()[:300]
    if re.match(r"^(relevant|yes)\b", lowered):
        return True, content.strip()[:300]
    return None


class OpenAIChatLabeller(CachedLabeller):
    """Labels through chat completions with bounded concurrency, retries and a label cache."""

    backend = "openai"

    def __init__(self, options, prompt: Prompt, cache: LabelCache) -> None:
        super().__init__(cache, options.model, prompt)
        self.options = options
        self.base_url = options.base_url.rstrip("/")
        self._lock = threading.Lock()

    def identity(self) -> str:
        """Server, model and prompt version (never the key)."""
        return f"openai:{self.options.model}@{self.base_url} prompt={self.prompt.effective_version}"

    def _messages(self, item: LabelItem) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.prompt.system}]
        for domain, text, label, reason in self.prompt.fewshot:
            messages.append({"role": "user", "content": self.prompt.render_user(domain, text)})
            answer = {"label": "relevant" if label else "not_relevant", "reason": reason or "audited example"}
            messages.append({"role": "assistant", "content": json.dumps(answer)})
        text = item.text[: self.options.max_doc_chars]
        messages.append({"role": "user", "content": self.prompt.render_user(item.domain, text)})
        return messages

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.options.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode("utf-8"),
                                         headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.options.timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))

    def _request_one(self, item: LabelItem) -> tuple[Label, int, int] | str:
        """One document: request with retries; the last problem (a str) when no answer parses."""
        body: dict[str, Any] = {
            "model": self.options.model, "messages": self._messages(item),
            "temperature": self.options.temperature, "max_tokens": self.options.max_tokens,
        }
        if self.options.structured_output:
            body["response_format"] = RESPONSE_SCHEMA
        last_error = "no attempt"
        for attempt in range(self.options.max_retries + 1):
            if attempt:
                with self._lock:
                    self.usage["retries"] += 1
                # exponential backoff with jitter so that concurrent workers do not retry in step
                time.sleep(self.options.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
            try:
                with self._lock:
                    self.usage["requests"] += 1
                reply = self._post(body)
            except urllib.error.HTTPError as err:
                last_error = f"HTTP {err.code}"
                if err.code in _RETRYABLE_STATUS:
                    continue
                if err.code in (401, 403):
                    raise UserError(f"labeller server {self.base_url} refused the request (HTTP {err.code}); "
                                    f"set a valid key in ${self.options.api_key_env}") from None
                if err.code == 400 and self.options.structured_output and "response_format" in body:
                    # some servers reject json_schema: ask again without it and parse leniently
                    body.pop("response_format")
                    last_error = "HTTP 400 with response_format; retrying without it"
                    continue
                raise UserError(f"labeller server {self.base_url} answered HTTP {err.code} for model "
                                f"{self.options.model!r}; check base_url and model") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                last_error = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
                continue
            except json.JSONDecodeError:
                last_error = "reply was not JSON"
                continue
            try:
                content = reply["choices"][0]["message"]["content"] or ""
            except (KeyError, IndexError, TypeError):
                last_error = "reply had no choices[0].message.content"
                continue
            parsed = parse_answer(content)
            if parsed is None:
                last_error = f"unparseable answer {content[:60]!r}"
                continue
            usage = reply.get("usage") or {}
            label, reason = parsed
            return (Label(item.id, label, 1.0 if label else 0.0, reason),
                    int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        if last_error.startswith("unparseable") or last_error.startswith("reply"):
            with self._lock:
                self.usage["unparseable"] += 1
            log.warning("%s: no usable label for document %s after %d attempt(s) (%s)", self.base_url, item.id,
                        self.options.max_retries + 1, last_error)
            return last_error
        raise ServerUnavailable(last_error)

    def _label_missing(self, items: Sequence[LabelItem], on_label: Callable[..., None]) -> None:
        failures: list[str] = []
        pending = set()
        queue = list(items)
        progress = tqdm(total=len(items), desc=f"labelling via {self.options.model}", unit="doc")
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            futures = {}
            try:
                # keep at most `concurrency` requests in flight: bounded memory and server load
                while queue or pending:
                    while queue and len(pending) < self.options.concurrency:
                        item = queue.pop(0)
                        future = pool.submit(self._request_one, item)
                        futures[future] = item
                        pending.add(future)
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        item = futures.pop(future)
                        try:
                            result = future.result()
                        except ServerUnavailable as err:
                            failures.append(str(err))
                            queue.clear()
                            continue
                        progress.update()
                        if isinstance(result, str):
                            # not cached: a rerun asks again instead of keeping a guess
                            on_label(unparsed_label(item.id, result), 0, 0, False)
                            continue
                        on_label(*result)
            finally:
                progress.close()
        if failures:
            cached = self.cache.count(self.prompt.effective_version, self.options.model)
            raise UserError(
                f"labeller server {self.base_url} (model {self.options.model!r}) did not answer after "
                f"{self.options.max_retries + 1} attempt(s): {failures[0]}; {cached} label(s) are cached in "
                f"{self.cache.path} and will not be requested again; start the server or fix labelling.*.openai.base_url, then rerun"
            )
