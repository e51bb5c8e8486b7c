"""Shared fixtures: the real bundled model, loaded once per test session (about 1-3 s).

Torch runs on one thread in tests (PLAYGROUND_TEST_THREADS to change it): the cores here are shared
with other processes, and oversubscribed OpenMP threads made a decode step ~10x slower (measured:
8 tokens in 0.85 s on one thread against 8 s on two while another process was busy).
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def pytest_configure(config):
    import torch

    torch.set_num_threads(int(os.environ.get("PLAYGROUND_TEST_THREADS", "1")))


@pytest.fixture(scope="session")
def loaded():
    from playground import loader

    return loader.load(dtype="float32")


@pytest.fixture(scope="session")
def engine(loaded):
    from playground.engine import Engine

    return Engine(loaded)


@pytest.fixture(scope="session")
def chat_prompt(engine):
    """A short templated chat prompt (token ids) for tests that need one."""
    return engine.prompt_ids([{"role": "user", "content": "Name three colours."}])
