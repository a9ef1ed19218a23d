"""A tiny exported model (transformers folder + ONNX graphs) and a real server on loopback."""

import contextlib
import threading
import time

import pytest
import torch

from ..release.conftest import build_tokenizer, release_config


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory):
    """An exported folder with onnx/ (fp32 encoder and fill-mask), two layers, window 4."""
    from rexbert.model.checkpoint import save_model
    from rexbert.model.modeling import RexBertForMaskedLM
    from rexbert.release.onnx import OnnxExportConfig, export_onnx

    root = tmp_path_factory.mktemp("serve")
    build_tokenizer(root / "tokenizer")
    torch.manual_seed(0)
    model = RexBertForMaskedLM(release_config(num_layers=2, max_position_embeddings=64))
    with torch.no_grad():
        model.model.embeddings.tok_embeddings.weight.mul_(20)  # separated fill-mask candidates
    save_model(model, root / "ckpt", tokenizer_dir=root / "tokenizer")
    export_onnx(root / "ckpt", root / "model", OnnxExportConfig(format="onnx", parity_max_length=64))
    return root / "model"


@contextlib.contextmanager
def running(server):
    """Serve `server` (a rexbert.serve.app.Server) with uvicorn on 127.0.0.1, any free port."""
    import uvicorn

    from rexbert.serve.app import create_app

    uv = uvicorn.Server(uvicorn.Config(create_app(server), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


def make_server(folder, **settings):
    """A Server for `folder` with ServeConfig `settings` (backend torch unless given)."""
    from rexbert.serve.app import Server
    from rexbert.serve.backends import load_backend
    from rexbert.serve.config import ServeConfig

    cfg = ServeConfig(port=0, **settings)
    backend, tokenizer = load_backend(folder, cfg.backend, cfg.precision, "cpu", cfg.max_batch_tokens,
                                      cfg.normalize, cfg.threads)
    return Server(backend, tokenizer, cfg, "tiny")
