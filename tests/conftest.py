"""Shared fixtures: the real bundled model, loaded once per test session (about 1-3 s)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


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
