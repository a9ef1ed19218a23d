"""Fixtures of the scale tests: the tiny demo corpus, the local executor's reference curations,
and real clusters (a Ray head and worker node, a single-node Slurm) brought up once per session
and torn down by their finalizers. Curation is driven through `python -m rexbert curate`."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


def _load(name: str):
    # the folder is not a package (tests import in importlib mode), so its helpers load by path
    spec = importlib.util.spec_from_file_location(f"rexbert_scale_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


clusters = _load("clusters")
harness_module = _load("harness")


def pytest_terminal_summary(terminalreporter):
    """Print how long each cluster start, curation and test took."""
    if harness_module.TIMINGS:
        terminalreporter.section("scale timings (wall seconds)")
        for name, seconds in harness_module.TIMINGS.items():
            terminalreporter.write_line(f"{name:<56} {seconds:7.1f}")


@pytest.fixture(scope="session")
def harness():
    """tests/scale/harness.py: the recipe, `run_curate`, `assert_same_curation`, timings."""
    return harness_module


@pytest.fixture(scope="session")
def scale_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scale")


@pytest.fixture(scope="session")
def demo_corpus(scale_tmp) -> Path:
    """`rexbert demo-data --size tiny`: a FineFineWeb-layout corpus, one file per domain."""
    out = scale_tmp / "demo"
    result = subprocess.run([sys.executable, "-m", "rexbert", "demo-data", "--out", str(out), "--size", "tiny"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"rexbert demo-data exited {result.returncode}:\n{result.stderr[-3000:]}"
    return out / "corpus"


@pytest.fixture(scope="session")
def local_reference(demo_corpus, scale_tmp):
    """The local executor's curations to compare the clusters' with."""
    return harness_module.LocalReference(demo_corpus, scale_tmp)


def _cluster_root(prefix: str) -> Path:
    # Not under pytest's tmp folder: Ray's socket paths must stay short, and munged wants the
    # folder of its socket open to all, which pytest's 0700 folders are not.
    return Path(tempfile.mkdtemp(prefix=prefix))


@pytest.fixture(scope="session")
def ray_cluster():
    """A Ray head and one worker node on loopback addresses, 1 CPU and 1 GiB each. With Ray
    installed, a cluster that does not start fails the tests instead of skipping them."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'rexbert[ray]'")
    root = _cluster_root("rexbert-ray-")
    cluster = clusters.RayCluster(root)
    try:
        with harness_module.timed("ray cluster start (head + worker node)"):
            cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_cluster():
    """munged, slurmctld and slurmd for this host; skipped, saying why, where they cannot start."""
    root = _cluster_root("rexbert-slurm-")
    cluster = clusters.SlurmCluster(root)
    try:
        try:
            with harness_module.timed("slurm cluster start (munged, slurmctld, slurmd)"):
                cluster.start()
        except (clusters.ClusterUnavailable, OSError, subprocess.SubprocessError) as err:
            print(f"\nSlurm test skipped: {err}", file=sys.stderr)
            pytest.skip(f"single-node Slurm could not start here: {err}")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
