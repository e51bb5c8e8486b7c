"""GenerationParams: every validation rule gives a message naming the field, the rule and the value;
modes, derived views and the transformers / OpenAI exports."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from playground.params import DEFAULTS, MAX_STOP, SPECS, ParamError, build

NUMERIC = [s for s in SPECS.values() if s.kind in ("float", "int", "seed")]
# Other fields some values need so that only the range rule can fail (cross-field rules hold).
COMPANIONS = {"min_new_tokens": {"max_new_tokens": 4096}, "num_return_sequences": {"num_beams": 8}}


def error(values: dict, **kw) -> ParamError:
    with pytest.raises(ParamError) as info:
        build(values, **kw)
    return info.value


def one_message(values: dict) -> str:
    e = error(values)
    assert len(e.messages) == 1, e.messages
    assert str(e) == e.messages[0]
    return e.messages[0]


def value_text(v) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


# --- ranges ------------------------------------------------------------------------------------
def out_of_range_cases():
    for s in NUMERIC:
        below = s.lo if s.lo_open else s.lo - 1  # an open end: the end itself is already outside
        above = s.hi if s.hi_open else s.hi + 1
        for v in (below, above):
            yield pytest.param(s, v, id=f"{s.name}={v}")


@pytest.mark.parametrize("spec,value", list(out_of_range_cases()))
def test_out_of_range_names_field_range_and_value(spec, value):
    v = int(value) if spec.kind in ("int", "seed") else float(value)
    msg = one_message({**COMPANIONS.get(spec.name, {}), spec.name: v})
    assert msg.startswith(f"`{spec.name}` must be in {spec.range_text}, but is {value_text(v)}."), msg


@pytest.mark.parametrize("spec", NUMERIC, ids=[s.name for s in NUMERIC])
def test_closed_ends_are_accepted(spec):
    for v, open_ in ((spec.lo, spec.lo_open), (spec.hi, spec.hi_open)):
        if open_:
            continue
        v = int(v) if spec.kind in ("int", "seed") else float(v)
        p = build({**COMPANIONS.get(spec.name, {}), spec.name: v})
        assert getattr(p, spec.name) == v


@pytest.mark.parametrize("name,value,text", [("top_p", 0.0, "(0, 1]"), ("typical_p", 0.0, "(0, 1]"),
                                             ("repetition_penalty", 0.0, "(0, 3]")])
def test_open_low_end_is_rejected_with_range_text(name, value, text):
    msg = one_message({name: value})
    assert f"`{name}` must be in {text}, but is 0." in msg


def test_top_p_message_suggests_the_off_value():
    assert one_message({"top_p": 1.5}) == "`top_p` must be in (0, 1], but is 1.5. Use 1 to turn top-p off."


def test_nan_is_out_of_range():
    msg = one_message({"temperature": math.nan})
    assert "`temperature`" in msg and "nan" in msg


def test_seed_none_is_fine_and_out_of_range_seed_is_not():
    assert build(seed=None).seed is None
    assert "`seed` must be in [0, 4294967295], but is 4294967296." in one_message({"seed": 2**32})


# --- types and unknown keys --------------------------------------------------------------------
@pytest.mark.parametrize("name,value,want", [
    ("top_k", "abc", "`top_k` must be an integer, but is 'abc'."),
    ("top_k", 1.5, "`top_k` must be an integer, but is 1.5."),
    ("temperature", "hot", "`temperature` must be a number, but is 'hot'."),
    ("do_sample", "maybe", "`do_sample` must be true or false, but is 'maybe'."),
    ("seed", "x", "`seed` must be an integer or empty, but is 'x'."),
    ("stop", 5, "`stop` must be a list of strings, but is 5."),
    ("logit_bias", [1], "`logit_bias` must be a mapping of token to number, but is [1]."),
])
def test_type_errors(name, value, want):
    assert one_message({name: value}) == want


def test_bad_sampler_order_lists_the_choices():
    msg = one_message({"sampler_order": "llama"})
    assert msg.startswith("`sampler_order` must be one of")
    assert "'transformers'" in msg and "'temperature_last'" in msg and "'llama'" in msg


def test_unknown_key_did_you_mean():
    msg = one_message({"temprature": 0.5})
    assert msg == "`temprature` is not a parameter, but was given 0.5. Did you mean `temperature`?"


def test_unknown_key_without_close_match_lists_known():
    msg = one_message({"zzzz": 1})
    assert "`zzzz` is not a parameter" in msg and "Known parameters:" in msg and "top_p" in msg


def test_several_errors_one_line_each_with_source():
    e = error({"top_p": 2.0, "top_k": -1}, source="preset X")
    assert len(e.messages) == 2
    assert all(m.startswith("preset X: ") for m in e.messages)
    assert any("`top_p`" in m for m in e.messages) and any("`top_k`" in m for m in e.messages)


# --- cross-field and collection rules ----------------------------------------------------------
def test_min_new_tokens_above_max():
    msg = one_message({"min_new_tokens": 20, "max_new_tokens": 10})
    assert "`min_new_tokens` must be <= `max_new_tokens`, but is 20 > 10." in msg


def test_num_return_sequences_above_num_beams():
    msg = one_message({"num_return_sequences": 3, "num_beams": 2})
    assert "`num_return_sequences` must be <= `num_beams`, but is 3 > 2." in msg


def test_beam_search_with_stop():
    msg = one_message({"num_beams": 2, "stop": ["\n"]})
    assert "`stop` must be empty with beam search" in msg and "['\\n']" in msg and "num_beams = 2" in msg


def test_too_many_stop_strings():
    msg = one_message({"stop": [str(i) for i in range(MAX_STOP + 1)]})
    assert msg.startswith(f"`stop` must hold at most {MAX_STOP} strings, but has {MAX_STOP + 1}.")
    assert len(build(stop=[str(i) for i in range(MAX_STOP)]).stop) == MAX_STOP


def test_empty_stop_string():
    assert "`stop` strings must be non-empty, but one is ''." in one_message({"stop": ["x", ""]})


def test_single_stop_string_becomes_a_tuple():
    assert build(stop="END").stop == ("END",)


@pytest.mark.parametrize("bias", [150, -100.5])
def test_logit_bias_out_of_range(bias):
    msg = one_message({"logit_bias": {"42": bias}})
    assert msg.startswith(f"`logit_bias` values must be in [-100, 100], but '42' has {value_text(bias)}.")


def test_logit_bias_empty_key_and_int_keys():
    assert "`logit_bias` keys must be a token text or id, but one is ''." in one_message({"logit_bias": {"": 1}})
    assert build(logit_bias={42: -100}).logit_bias == {"42": -100}


# --- frozen, modes, derived views --------------------------------------------------------------
def test_frozen():
    p = build(temperature=0.7)
    with pytest.raises(ValidationError):
        p.temperature = 0.5
    assert p.temperature == 0.7
    q = p.replace(temperature=0.5)
    assert (p.temperature, q.temperature) == (0.7, 0.5)
    with pytest.raises(ParamError, match="`temperature`"):
        p.replace(temperature=9)


@pytest.mark.parametrize("values,mode", [
    ({}, "sample"),
    ({"temperature": 0}, "greedy"),
    ({"do_sample": False}, "greedy"),
    ({"do_sample": False, "temperature": 1.5}, "greedy"),
    ({"num_beams": 2}, "beam"),
    ({"num_beams": 3, "temperature": 0}, "beam"),
    ({"temperature": 0.01}, "sample"),
])
def test_mode(values, mode):
    assert build(values).mode == mode


def test_inactive_reason():
    greedy = build(temperature=0)
    assert greedy.inactive_reason("repetition_penalty") is None
    why = greedy.inactive_reason("top_k")
    assert why.startswith("`top_k` has no effect") and "greedy" in why
    assert greedy.inactive_reason("length_penalty") is not None
    sample = build()
    assert sample.inactive_reason("top_k") is None
    assert "beam search" in sample.inactive_reason("length_penalty")
    beam = build(num_beams=4)
    assert "num_beams = 4" in beam.inactive_reason("temperature")
    assert beam.inactive_reason("stop") is not None
    assert beam.inactive_reason("length_penalty") is None
    assert beam.inactive_reason("no_repeat_ngram_size") is None
    for name in SPECS:  # exactly the declared modes decide
        assert (sample.inactive_reason(name) is None) == ("sample" in SPECS[name].modes)


def test_changed_only_non_defaults():
    assert DEFAULTS.changed() == {}
    p = build(temperature=0.7, stop=["x"], top_k=0, logit_bias={"5": 2})
    assert p.changed() == {"temperature": 0.7, "stop": ["x"], "logit_bias": {"5": 2}}
    assert build(p.changed()) == p


def test_generate_kwargs_sampling_sets_top_k_zero_explicitly():
    kw = build(temperature=0.7, top_p=0.9, min_p=0.05).to_generate_kwargs()
    assert kw["do_sample"] is True
    assert kw["top_k"] == 0  # transformers would otherwise add a hidden top_k=50
    assert (kw["temperature"], kw["top_p"], kw["min_p"]) == (0.7, 0.9, 0.05)
    assert (kw["typical_p"], kw["epsilon_cutoff"], kw["eta_cutoff"]) == (1.0, 0.0, 0.0)
    assert kw["num_beams"] == 1 and kw["max_new_tokens"] == 256
    assert build().to_generate_kwargs()["min_p"] is None


def test_generate_kwargs_greedy():
    for p in (build(temperature=0), build(do_sample=False, top_k=5)):
        kw = p.to_generate_kwargs()
        assert kw["do_sample"] is False
        assert "top_k" not in kw and "temperature" not in kw


def test_generate_kwargs_beam():
    kw = build(num_beams=4, num_return_sequences=2, length_penalty=0.5, early_stopping=True,
               repetition_penalty=1.2, no_repeat_ngram_size=3).to_generate_kwargs()
    assert kw["do_sample"] is False
    assert (kw["num_beams"], kw["num_return_sequences"], kw["length_penalty"], kw["early_stopping"]) == (4, 2, 0.5, True)
    assert (kw["repetition_penalty"], kw["no_repeat_ngram_size"]) == (1.2, 3)


def test_generate_kwargs_temperature_last_has_neutral_warpers():
    kw = build(sampler_order="temperature_last", temperature=2.0, top_k=10, top_p=0.5, min_p=0.1).to_generate_kwargs()
    assert kw["do_sample"] is True
    assert (kw["temperature"], kw["top_k"], kw["top_p"]) == (1.0, 0, 1.0)
    assert kw.get("min_p") in (None, 0.0)
    assert kw.get("typical_p", 1.0) == 1.0


def test_openai_request_greedy_and_extras():
    msgs = [{"role": "user", "content": "hi"}]
    body = build(do_sample=False, temperature=0.8, stop=["\n", "END"], seed=7,
                 logit_bias={"42": -100, " cat": 5, " 17 ": 3}).to_openai_request(msgs)
    assert body["temperature"] == 0
    assert body["messages"] == msgs
    assert body["stop"] == ["\n", "END"]
    assert body["seed"] == 7
    assert body["logit_bias"] == {"42": -100, "17": 3}
    assert "presence_penalty" not in body


def test_openai_request_sampling():
    body = build(temperature=0.8, top_p=0.9, presence_penalty=0.5, frequency_penalty=-0.5,
                 max_new_tokens=99).to_openai_request([])
    assert (body["temperature"], body["top_p"], body["max_completion_tokens"]) == (0.8, 0.9, 99)
    assert (body["presence_penalty"], body["frequency_penalty"]) == (0.5, -0.5)
    assert "stop" not in body and "seed" not in body and "logit_bias" not in body


def test_openai_unsupported():
    assert DEFAULTS.openai_unsupported() == []
    assert build(temperature=0.5, top_p=0.9, seed=1, stop=["x"]).openai_unsupported() == []
    out = build(top_k=40, min_p=0.1, logit_bias={"7": 1}).openai_unsupported()
    assert out == ["top_k", "min_p"]
    out = build(logit_bias={" cat": 1}).openai_unsupported()
    assert len(out) == 1 and out[0].startswith("logit_bias")


def _outside(s) -> list[float]:
    """The nearest values just outside a numeric spec's range, on each side that has an end."""
    tiny = 1 if s.kind == "int" else 1e-6
    out = []
    if s.lo is not None:
        out.append(s.lo if s.lo_open else s.lo - tiny)
    if s.hi is not None:
        out.append(s.hi if s.hi_open else s.hi + tiny)
    return out


# What another field must be for this one's extremes to be legal (the rules between fields).
COMPANIONS = {"min_new_tokens": {"max_new_tokens": SPECS["max_new_tokens"].hi},
              "num_return_sequences": {"num_beams": SPECS["num_beams"].hi}}


@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s.kind in ("float", "int")])
def test_each_numeric_spec_is_the_range_validation_enforces(name):
    s, other = SPECS[name], COMPANIONS.get(name, {})
    assert s.help and s.group
    assert getattr(build(**{name: s.default}), name) == s.default  # the declared default builds
    for end in (s.ui_min, s.ui_max):  # the slider's ends build
        assert getattr(build(**other, **{name: end}), name) == end
    assert _outside(s), f"{name} declares no range"
    for bad in _outside(s):
        with pytest.raises(ParamError) as e:
            build(**other, **{name: bad})
        assert f"`{name}` must be" in str(e.value) and s.range_text in str(e.value), str(e.value)
