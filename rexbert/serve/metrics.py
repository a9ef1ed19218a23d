"""Request counts and latency histograms in Prometheus' text format (`GET /metrics`).

Written here rather than with prometheus-client: the server needs two counters and two
histograms, per app instance (tests run several), and the text format is a few lines.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Histogram:
    """Cumulative-bucket histogram of one series."""

    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip((*self.buckets, "+Inf"), self.counts, strict=True):
            running += count
            out.append(f'{name}_bucket{{{labels}{"," if labels else ""}le="{bound}"}} {running}')
        out += [f"{name}_sum{{{labels}}} {self.total:.6f}", f"{name}_count{{{labels}}} {running}"]
        return out


class Metrics:
    """What /metrics reports: requests by route and status, latency by route, batches."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.latency: dict[str, Histogram] = {}
        self.batches: Counter[str] = Counter()
        self.batch_requests: dict[str, Histogram] = {}
        self.batch_texts: dict[str, Histogram] = {}

    def request(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, status)] += 1
            self.latency.setdefault(route, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, kind: str, requests: int, texts: int) -> None:
        with self._lock:
            self.batches[kind] += 1
            self.batch_requests.setdefault(kind, Histogram(BATCH_BUCKETS)).observe(requests)
            self.batch_texts.setdefault(kind, Histogram(BATCH_BUCKETS)).observe(texts)

    def render(self, queued: int) -> str:
        with self._lock:
            lines = ["# HELP rexbert_requests_total HTTP requests by route and status code.",
                     "# TYPE rexbert_requests_total counter"]
            lines += [f'rexbert_requests_total{{route="{r}",code="{c}"}} {n}'
                      for (r, c), n in sorted(self.requests.items())]
            lines += ["# HELP rexbert_request_duration_seconds Time from request to response.",
                      "# TYPE rexbert_request_duration_seconds histogram"]
            for route, histogram in sorted(self.latency.items()):
                lines += histogram.lines("rexbert_request_duration_seconds", f'route="{route}"')
            lines += ["# HELP rexbert_batches_total Model calls, each over one merged batch of requests.",
                      "# TYPE rexbert_batches_total counter"]
            lines += [f'rexbert_batches_total{{kind="{k}"}} {n}' for k, n in sorted(self.batches.items())]
            for name, table, what in (("rexbert_batch_requests", self.batch_requests, "Requests"),
                                      ("rexbert_batch_texts", self.batch_texts, "Texts")):
                lines += [f"# HELP {name} {what} merged into one model call.", f"# TYPE {name} histogram"]
                for kind, histogram in sorted(table.items()):
                    lines += histogram.lines(name, f'kind="{kind}"')
            lines += ["# HELP rexbert_queue_depth Requests waiting for the model.",
                      "# TYPE rexbert_queue_depth gauge", f"rexbert_queue_depth {queued}"]
        return "\n".join(lines) + "\n"
