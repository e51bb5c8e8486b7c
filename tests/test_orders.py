"""Any sampler order (issue 8 §3): `sampler_order` is a named order or the user's own list of stages, validated
against the registry's movable stages; the chain, the export and the llama.cpp `samplers` list follow it."""

from __future__ import annotations

import math

import pytest
import torch

from playground import export, formats, sampling, stages
from playground.params import SPECS, ParamError, build
from playground.remote import OpenAIBackend
from playground.stages import ORDERS, STAGES, movable, resolve_order

MOVABLE = movable()


def message(value) -> str:
    with pytest.raises(ParamError) as e:
        build(sampler_order=value)
    assert len(e.value.messages) == 1
    return e.value.messages[0]


def test_the_named_orders_keep_their_names_and_meaning():
    for name, order in ORDERS.items():
        p = build(sampler_order=name)
        assert p.sampler_order == name and resolve_order(name) == order.stages
    assert resolve_order("transformers") == MOVABLE  # generate()'s order: the registry's
    assert set(SPECS["sampler_order"].choices) == set(ORDERS)


def test_a_custom_order_runs_its_stages_first_then_the_rest_in_the_default_order():
    p = build(sampler_order="top_k, min_p ,temperature,top_p")  # spaces around names are fine
    assert p.sampler_order == "top_k,min_p,temperature,top_p"
    full = resolve_order(p.sampler_order)
    assert full[:4] == ("top_k", "min_p", "temperature", "top_p")
    assert full[4:] == tuple(n for n in MOVABLE if n not in full[:4]) and sorted(full) == sorted(MOVABLE)
    assert build(sampler_order=["min_p", "temperature"]).sampler_order == "min_p,temperature"  # a YAML/JSON list


def test_a_custom_order_is_stored_as_the_named_order_it_equals_or_its_shortest_list():
    assert build(sampler_order=",".join(ORDERS["temperature_last"].stages)).sampler_order == "temperature_last"
    assert build(sampler_order="top_n_sigma,temperature").sampler_order == "transformers"  # the default's own start
    assert build(sampler_order="transformers").changed() == {}  # a preset stores the order only when it differs
    whole = ("min_p", "temperature", *(n for n in MOVABLE if n not in ("min_p", "temperature")))
    assert build(sampler_order=",".join(whole)).sampler_order == "min_p,temperature"  # the tail in default order goes


@pytest.mark.parametrize("value, words", [
    ("topk,min_p", ["'topk' is not a stage", "Did you mean 'top_k'?"]),
    ("epsilon_cutoff", ["'epsilon_cutoff' is not a stage", "Did you mean 'epsilon'?"]),  # the parameter: its stage
    ("typ_p", ["Did you mean 'typical_p'?"]),  # llama.cpp's name
    ("top_k,min_p,top_k", ["'top_k' appears twice. Name each stage once."]),
    ("repetition_penalty,top_k", ["'repetition_penalty' cannot move: it is a penalty"]),
    ("greedy", ["'greedy' cannot move: it is the final pick"]),
    ("", ["it is empty"]),
    ("top_k,,min_p", ["a name is empty"]),
])
def test_a_bad_order_names_the_field_the_stage_and_the_valid_ones(value, words):
    msg = message(value)
    assert msg.startswith("`sampler_order` must be one of 'transformers', 'temperature_last', 'text-generation-webui' "
                          "or the stages in your order"), msg
    for w in words:
        assert w in msg, msg
    if "appears twice" not in msg:
        assert msg.endswith(f"The stages that can move: {', '.join(MOVABLE)}."), msg


def test_the_chain_follows_a_custom_order():
    """min-p before temperature judges the model's own distribution; after it, the flattened one: the same
    settings keep different tokens, and the chain lists the stages in the user's order."""
    logits = torch.tensor([[math.log(p) for p in (0.5, 0.3, 0.15, 0.05)]])
    values = dict(temperature=3.0, min_p=0.5, top_k=3)

    def run(order):
        p = build(values, sampler_order=order)
        trace = sampling.run(sampling.build_stages(p, 1, 7), torch.tensor([[0]]), logits)
        return [s.name for s in trace.stages], torch.isfinite(trace.final[0]).nonzero().flatten().tolist()

    names, kept_first = run("min_p,top_k,temperature")
    assert names == ["min_p", "top_k", "temperature"]
    assert kept_first == [0, 1]  # 0.3 >= 0.5 * 0.5; 0.15 is not
    names, kept_last = run("temperature,top_k,min_p")
    assert names == ["temperature", "top_k", "min_p"]
    assert kept_last == [0, 1, 2]  # at T = 3 the top three are within half of the top's probability


def test_the_export_and_llamacpp_follow_a_custom_order():
    p = build(temperature=1.5, top_k=40, min_p=0.1, top_p=0.9, sampler_order="top_k,min_p,temperature,top_p")
    assert p.own_warpers and stages.warper_names(p) == ["top_k", "min_p", "temperature", "top_p"]
    code = export.python_snippet(p, [{"role": "user", "content": "Hi"}])
    assert "processors.extend([TopKLogitsWarper(40), MinPLogitsWarper(0.1), TemperatureLogitsWarper(1.5), " \
           "TopPLogitsWarper(0.9)])" in code, code
    assert export.kwargs_from_snippet(code) == p.to_generate_kwargs()  # generate()'s own warpers neutral
    samplers = formats.llamacpp_samplers(p)
    assert samplers[:6] == ["penalties", "dry", "top_k", "min_p", "temperature", "top_p"]
    llama = OpenAIBackend("http://127.0.0.1:1/v1", "m", kind="llamacpp")
    assert llama.body([{"role": "user", "content": "Hi"}], p)["extra_body"]["samplers"] == samplers


def test_dynamic_temperature_takes_llamacpps_temperature_place_when_it_runs():
    order = "top_k,temperature,min_p,dynatemp"
    assert formats.llamacpp_samplers(build(sampler_order=order)).index("temperature") == 3  # temperature's place
    on = build(sampler_order=order, dynatemp_range=0.5)
    assert formats.llamacpp_samplers(on)[2:5] == ["top_k", "min_p", "temperature"]  # dynatemp's place
    assert STAGES["dynatemp"].llama_cpp == STAGES["temperature"].llama_cpp == "temperature"
