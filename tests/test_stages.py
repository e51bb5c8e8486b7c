"""The stage registry: every stage has every fact, and the chain, the named orders, the export, the
plot's colours and the help text are generated from it (a stage added to a copy of the registry shows up
in each); the final pick is the chain's last link (greedy keeps the argmax, sample draws exactly the
draw `Decoder` made before the pick was a stage)."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from playground import export, plotdata, sampling, stage_rows, stages
from playground.params import SAMPLER_ORDERS, SPECS, build
from playground.stages import PICK, PROCESSOR, STAGES, WARPER

EOS = 7


def chain(values: dict, logits, ids=(0,), bias=None) -> sampling.Trace:
    stages_ = sampling.build_stages(build(values), len(ids), EOS, bias)
    return sampling.run(stages_, torch.tensor([list(ids)]), torch.tensor([logits], dtype=torch.float32))


def off_value(field: str, neutral):
    """A valid value of `field` that is not its neutral one."""
    s = SPECS[field]
    for v in (s.hi, (s.lo + s.hi) / 2):
        v = int(v) if s.kind == "int" else v
        if v != neutral:
            return v
    raise AssertionError(field)


# --- every stage has every fact ------------------------------------------------------------------
@pytest.mark.parametrize("name", list(STAGES))
def test_every_stage_has_every_fact(name):
    s = STAGES[name]
    assert s.name == name and s.label and s.formula and s.kind in (PROCESSOR, WARPER, PICK)
    assert s.fields and all(f in SPECS for f in s.fields), "it reads real parameters"
    assert re.fullmatch(r"#[0-9a-f]{6}", s.color)
    assert set(s.neutral) <= set(s.fields) and (s.neutral or s.when), "it says when it is active"
    for f, v in s.neutral.items():
        assert v == SPECS[f].default, "a default request runs no stage"
    cls = sampling.impl_class(s)
    assert isinstance(cls, type)
    assert s.removed_text.startswith(("removed by", "not the top token"))
    assert plotdata.fate_label(name) == s.removed_text


@pytest.mark.parametrize("name", [n for n, s in STAGES.items() if s.kind != PICK and s.when is None])
def test_a_stage_runs_exactly_when_a_field_it_reads_is_not_neutral(name):
    s = STAGES[name]
    for field, neutral in s.neutral.items():
        values = {field: off_value(field, neutral), "max_new_tokens": 4096}
        names = [x.name for x in sampling.build_stages(build(values), 1, EOS, None)]
        assert names == [name], (field, values)
    assert sampling.build_stages(build({}), 1, EOS, None) == []


def test_logit_bias_runs_when_the_request_resolved_a_bias():
    assert [s.name for s in sampling.build_stages(build({}), 1, EOS, {3: 2.0})] == ["logit_bias"]


def test_the_chain_follows_the_registry_and_describes_itself():
    everything = dict(temperature=0.7, top_k=5, top_p=0.9, min_p=0.05, typical_p=0.9, epsilon_cutoff=0.001,
                      eta_cutoff=0.001, repetition_penalty=1.1, presence_penalty=0.5, no_repeat_ngram_size=3,
                      min_new_tokens=1, dry_multiplier=0.8, top_n_sigma=2.0, smoothing_factor=0.3, top_a=0.1, tfs=0.95,
                      xtc_probability=0.5)
    c = sampling.build_stages(build(everything), 1, EOS, {1: 1.0})
    assert [s.name for s in c] == [n for n, s in STAGES.items() if s.kind != PICK and n != "dynatemp"]  # the registry's order
    # dynamic temperature takes temperature's place
    c = sampling.build_stages(build(everything, dynatemp_range=0.5), 1, EOS, {1: 1.0})
    assert [s.name for s in c] == [n for n, s in STAGES.items() if s.kind != PICK and n != "temperature"]
    assert c.pick.name == "sample"
    assert [s.warper for s in c] == [STAGES[s.name].kind == WARPER for s in c]
    assert c.describe()[0] == "logit bias: z_i += bias_i"
    assert c.describe()[-1] == f"sample: {STAGES['sample'].formula}"
    assert sampling.build_stages(build(do_sample=False), 1, EOS, None).pick.name == "greedy"
    assert sampling.build_stages(build(temperature=0), 1, EOS, None).pick.name == "greedy"
    assert sampling.build_stages(build(num_beams=2), 1, EOS, None).pick is None  # generate() searches


# --- generated from the registry -------------------------------------------------------------------
def test_orders_colours_export_and_help_come_from_the_registry():
    movable = [n for n, s in STAGES.items() if s.kind == WARPER]
    assert sampling.ORDERS["transformers"] == tuple(movable)
    for order in sampling.ORDERS.values():
        assert sorted(order) == sorted(movable)  # a permutation of the warpers
    assert set(SAMPLER_ORDERS) == set(stages.ORDERS) == set(SPECS["sampler_order"].choices)
    assert SAMPLER_ORDERS["temperature_last"].endswith(", temperature, dynamic temperature (llama.cpp)")
    assert sampling.ORDERS["temperature_last"][:6] == ("top_n_sigma", "top_k", "typical_p", "top_p", "min_p", "xtc")
    assert sampling.ORDERS["text-generation-webui"][-4:] == ("tfs", "top_a", "min_p", "xtc")  # its sampler_priority
    from playground.ui import plot

    assert {n: plot.COLORS[n] for n in STAGES} == {n: s.color for n, s in STAGES.items()}


def test_a_stage_added_to_a_copy_of_the_registry_appears_everywhere():
    # A second top-k, as a new sampler would be: one entry (its processor already exists).
    new = dataclasses.replace(STAGES["top_k"], name="top_k2", label="top-k again", llama_cpp=None)
    reg = {**{n: s for n, s in STAGES.items() if s.kind != PICK}, "top_k2": new,
           **{n: s for n, s in STAGES.items() if s.kind == PICK}}
    orders = stages.named_orders(reg)
    assert orders["transformers"].stages[-1] == "top_k2"
    # llama.cpp has no such stage: it runs with the other filters, before temperature (and dynamic temperature)
    assert orders["temperature_last"].stages[-3:] == ("top_k2", "temperature", "dynatemp")
    assert "top-k again" in orders["transformers"].describe(reg)
    p = build(top_k=5, temperature=0.5, sampler_order="temperature_last")
    assert [s.name for s in sampling.warper_stages(p, reg=reg)] == ["top_k", "top_k2", "temperature"]
    assert [s.name for s in sampling.warper_stages(p)] == ["top_k", "temperature"]
    assert export.ordered_warpers(p, registry=reg) == ["TopKLogitsWarper(5)", "TopKLogitsWarper(5)",
                                                       "TemperatureLogitsWarper(0.5)"]
    assert export.ordered_warpers(p) == ["TopKLogitsWarper(5)", "TemperatureLogitsWarper(0.5)"]


# --- the pick ----------------------------------------------------------------------------------------
def test_greedy_pick_is_a_row_of_the_chain():
    z = [1.0, 3.0, 2.0, 0.0, float("-inf")]
    tr = chain({"do_sample": False, "repetition_penalty": 1.5}, z, ids=(2,))
    assert tr.pick.name == "greedy" and not tr.pick.random
    report = tr.stage_report()
    assert [r["stage"] for r in report] == ["repetition_penalty", "greedy"]
    p = torch.softmax(tr.final[0], dim=-1)
    assert (report[1]["considered"], report[1]["kept"], report[1]["removed"]) == (4, 1, 3)
    assert report[1]["removed_mass"] == pytest.approx(1 - float(p[1]), abs=1e-6)
    assert torch.isfinite(tr.picked[0]).tolist() == [False, True, False, False, False]
    assert tr.pick.choose(tr, None) == 1
    fates = {f.id: f for f in tr.candidates(5)}
    assert fates[1].removed_by is None and fates[1].final == 1.0
    assert fates[0].removed_by == "greedy" and fates[0].final == 0.0 and fates[0].pre == pytest.approx(float(p[0]))
    assert stage_rows.survivors(tr) == {1: 1.0}
    rows = stage_rows.chain_table(tr, str)
    assert rows[-1].label == "greedy (argmax)" and rows[-1].top_after == [("1", 1.0)]


def test_sample_pick_draws_what_the_decoder_drew_for_a_seed():
    g = torch.Generator().manual_seed(0)
    z = (torch.randn(1, 50, generator=g) * 2).tolist()[0]
    tr = chain({"temperature": 1.3, "top_k": 20}, z)
    assert tr.pick.name == "sample" and tr.pick.random and tr.picked is tr.final
    assert [r["stage"] for r in tr.stage_report()] == ["temperature", "top_k"]  # a draw removes nothing
    draws = set()
    for seed in range(40):
        old = int(torch.multinomial(torch.softmax(tr.final, dim=-1), 1, generator=torch.Generator().manual_seed(seed))[0, 0])
        new = tr.pick.choose(tr, torch.Generator().manual_seed(seed))
        assert new == old
        draws.add(new)
    assert len(draws) > 3 and draws <= set(stage_rows.survivors(tr))
    kept = [f for f in tr.candidates(50) if f.removed_by is None]
    assert len(kept) == 20 and math.isclose(sum(f.final for f in kept), 1.0, abs_tol=1e-5)
    assert {f.removed_by for f in tr.candidates(50)} == {None, "top_k"}
