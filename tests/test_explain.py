"""The explain panel (ui/explain.py): formulas as math, and what each active stage did to the live step."""

from __future__ import annotations

import gradio as gr
import pytest

from playground import plotdata
from playground.params import build
from playground.ui import controls, explain
from tests.test_sampling import chain, logits_of


def test_formulas_read_as_math():
    assert explain.mathy("keep i if p_i >= min_p * max_j p_j") == "keep i if pᵢ ≥ min_p · maxⱼ pⱼ"
    assert explain.mathy("p_i = exp(z_i/T) / sum_j exp(z_j/T)") == "pᵢ = exp(zᵢ/T) / Σⱼ exp(zⱼ/T)"


def test_each_active_stage_says_what_it_did_by_hand():
    # probabilities 0.5, 0.3, 0.15, 0.05: top_p = 0.75 keeps the first two (0.8 of the mass); renormalised they
    # are 0.625 and 0.375, and min_p = 0.7 (cut 0.4375) keeps only the first
    trace = chain({"top_p": 0.75, "min_p": 0.7, "sampler_order": "temperature_last"}, logits_of([0.5, 0.3, 0.15, 0.05]))
    eff = {e.name: e for e in plotdata.effects(trace)}
    assert (eff["top_p"].considered, eff["top_p"].kept) == (4, 2) and eff["top_p"].kept_mass == pytest.approx(0.8)
    assert (eff["min_p"].considered, eff["min_p"].kept) == (2, 1) and eff["min_p"].top_before == pytest.approx(0.625)
    text = explain.render(plotdata.effects(trace), build(top_p=0.75, min_p=0.7))
    assert "**top-p** (`top_p` = 0.75)" in text and "kept **2** of 4 tokens, carrying 0.8 of the probability" in text
    assert "`temperature` = 1" in text.split("Off or not in the chain now:")[1]  # neutral: listed as off


@pytest.mark.model
def test_the_panel_follows_the_live_step_only_while_open(engine):
    ids = engine.prompt_ids([{"role": "user", "content": "Name three colours."}])
    engine.next_logits(ids)
    ctx, settings = {"ids": ids}, controls.mirror(controls.to_values(build(top_k=5)))
    assert isinstance(explain.explain(engine, ctx, settings, False), type(gr.skip()))
    text = explain.explain(engine, ctx, settings, True)
    assert "**top-k** (`top_k` = 5)" in text and "kept **5** of 49152 tokens" in text
