"""rexbert serve: embeddings and fill-mask over HTTP, with concurrent requests merged into batches.

`serve(cfg, model)` (the `rexbert serve` command) loads an exported model folder on the torch or
onnx backend and runs the FastAPI app of `rexbert.serve.app` under uvicorn.
"""

from rexbert.stage import make_callable

make_callable("rexbert.serve", "rexbert.serve.app:serve")
