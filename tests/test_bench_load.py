"""bench/load.py's pure helpers: percentiles, the status line's token count, crossed-reply detection, the table.

No app and no model: the bench itself is run by hand (bench/RESULTS.md), never as a test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("bench_load", Path(__file__).resolve().parent.parent / "bench" / "load.py")
load = sys.modules["bench_load"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
spec.loader.exec_module(load)


def test_percentile_interpolates_between_ranks_like_numpy():
    xs = [4.0, 1.0, 3.0, 2.0]
    assert load.percentile(xs, 50) == pytest.approx(2.5)
    assert load.percentile(xs, 95) == pytest.approx(3.85)  # numpy.percentile([1, 2, 3, 4], 95)
    assert load.percentile(xs, 0) == 1.0 and load.percentile(xs, 100) == 4.0
    assert load.percentile([7.0], 95) == 7.0 and load.percentile([], 50) is None


def test_tokens_in_reads_the_count_not_the_rate():
    assert load.tokens_in("**length** · 32 tokens · 14.1 tokens/s · 2.3 s · mode sample · seed 1000") == 32
    assert load.tokens_in("⚠️ The model failed: RuntimeError: boom. The conversation is unchanged.") is None


def test_classify_tells_crossed_from_differing_replies():
    refs = {0: "The sea is wide and blue.", 1: "Mountains rise above the clouds."}
    assert load.classify(0, load.prompt(0), refs[0], refs) == "ok"
    assert load.classify(0, load.prompt(0), "The sea is wide and grey.", refs) == "differs"
    assert load.classify(0, load.prompt(0), "Mountains rise above us.", refs) == "crossed"  # another user's reply
    assert load.classify(0, load.prompt(1), refs[0], refs) == "crossed"  # another user's prompt in the history
    assert len({load.prompt(i) for i in range(40)}) == 40  # every user's prompt differs


def test_table_has_a_row_per_round_and_dashes_for_missing_values():
    row = dict(users=4, tok_s=41.25, ratio=2.5, ttft_p50=0.5, ttft_p95=1.25, total_p50=2.0, total_p95=3.0, failures=1,
               crossed=0, differs=2, rss_mb=812.4, server_cpu_ms_per_token=90.66, clients_cpu_share=0.125)
    lines = load.table([row, dict(row, users=16, tok_s=None, ratio=None, server_cpu_ms_per_token=None)]).splitlines()
    assert len(lines) == 4 and lines[0].startswith("| users | tok/s | vs 1 user |")
    assert lines[2] == "| 4 | 41.2 | 2.50x | 0.50 s | 1.25 s | 2.00 s | 3.00 s | 1 | 0 | 2 | 812 MB | 90.7 | 12% |"
    assert lines[3].startswith("| 16 | - | -x |") and lines[3].endswith("| 812 MB | - | 12% |")


def test_cpu_counts_the_server_tree_and_this_process():
    import os

    with load.CPU(os.getpid()) as cpu:
        sum(i * i for i in range(2_000_000))  # some work in this process (its own tree's CPU time too)
    assert cpu.clients > 0 and cpu.server > 0
