"""The peers' formats (issue 8 §4): text-generation-webui preset YAML and llama.cpp request JSON, in and out;
round trips for every shipped preset each format can carry, and the command line's --export / --import."""

from __future__ import annotations

import json

import pytest
import yaml

from playground import formats, stages
from playground.cli import main
from playground.params import ParamError, build
from playground.presets import list_presets, load_preset

FORMATS = {"webui": (formats.to_webui, formats.from_webui), "llamacpp": (formats.to_llamacpp, formats.from_llamacpp)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_shipped_preset_the_format_carries_comes_back_equal(fmt):
    out, back = FORMATS[fmt]
    carried = 0
    for name in list_presets():
        p = load_preset(name)
        lost = formats.not_carried(p, fmt)
        notes: list[str] = []
        again = back(out(p), notes=notes)
        if lost:  # what it cannot carry is named, and only that differs
            assert {k for k in p.changed() if getattr(again, k) != getattr(p, k)} == {x.split()[0] for x in lost}, name
        else:
            assert again == p and notes == [], (name, again.changed(), notes)
            carried += 1
    assert carried >= 11  # all but beam search (both) and the max_new_tokens presets (webui)


def test_custom_orders_and_the_peers_samplers_round_trip():
    p = build(temperature=1.5, dynatemp_range=0.5, dynatemp_exponent=2.0, top_k=40, min_p=0.1, top_p=0.9, epsilon_cutoff=0.0003,
              dry_multiplier=0.8, dry_sequence_breakers=["\n", "::"], xtc_probability=0.5, mirostat_tau=4.0,
              sampler_order="top_k,min_p,top_p,temperature")
    assert formats.from_webui(formats.to_webui(p)) == p  # TGW has every stage: exactly the same
    back = formats.from_llamacpp(formats.to_llamacpp(p))  # llama.cpp lacks some stages: the same chain runs
    assert back.replace(sampler_order=p.sampler_order) == p.replace(epsilon_cutoff=0.0)
    assert stages.warper_names(back) == stages.warper_names(p.replace(epsilon_cutoff=0.0))


def test_webui_names_and_units():
    p = build(temperature=1.2, dynatemp_range=0.5, epsilon_cutoff=0.0003, mirostat=2, do_sample=True)
    data = yaml.safe_load(formats.to_webui(p))
    assert data["dynamic_temperature"] is True and (data["dynatemp_low"], data["dynatemp_high"]) == (0.7, 1.7)
    assert data["epsilon_cutoff"] == 3.0 and data["mirostat_mode"] == 2  # TGW: epsilon in units of 1e-4
    assert "sampler_priority" in data and "text-generation-webui" not in formats.to_webui(p).split("\n", 1)[1]
    assert "sampler_priority" not in formats.to_webui(build(sampler_order="text-generation-webui"))  # its default


def test_webui_temperature_last_and_its_default_order():
    notes: list[str] = []
    p = formats.from_webui("min_p: 0.02\nxtc_probability: 0.5\ntemperature_last: true\nguidance_scale: 1.5\n"
                           "penalty_alpha: 0\n", "Creative.yaml", notes)
    assert (p.min_p, p.xtc_probability) == (0.02, 0.5)
    assert stages.resolve_order(p.sampler_order)[-3:] == ("temperature", "dynatemp", "smoothing")  # moved to the end
    assert notes == ["`guidance_scale` 1.5 is ignored: classifier-free guidance needs a negative prompt, and there is "
                     "none here (text-generation-webui)."]  # penalty_alpha 0 is its neutral value: not worth a note
    assert formats.from_webui("top_p: 0.9").sampler_order == "text-generation-webui"


def test_llamacpp_defaults_fill_what_a_request_leaves_out():
    notes: list[str] = []
    assert formats.from_llamacpp({}, notes=notes) == load_preset("llamacpp-defaults")
    assert notes == ["`n_predict` -1 (no limit) is read as max_new_tokens 256."]
    notes = []
    p = formats.from_llamacpp({"temp": 0.7, "top_k": 5, "samplers": ["top_k", "temperature"], "n_predict": 20}, notes=notes)
    assert (p.temperature, p.top_k, p.top_p, p.min_p, p.max_new_tokens) == (0.7, 5, 1.0, 0.0, 20)  # left out: off
    assert notes == ["`samplers` leaves out 'top_p', so top-p is off.", "`samplers` leaves out 'min_p', so min-p is off."]
    assert stages.warper_names(p) == ["top_k", "temperature"]
    g = formats.from_llamacpp({"temperature": 0, "logit_bias": [[17, False], ["Hi", 2]], "seed": 5})
    assert g.mode == "greedy" and g.logit_bias == {"17": -100.0, "Hi": 2.0} and g.seed == 5
    body = formats.to_llamacpp(build(do_sample=False, repetition_penalty=1.2))
    assert (body["temperature"], body["repeat_penalty"], body["repeat_last_n"]) == (0.0, 1.2, -1)


@pytest.mark.parametrize("read, data, words", [
    (formats.from_webui, "top_pp: 0.3\n", "Creative.yaml: `top_pp` is not a text-generation-webui preset key, so it "
                                          "cannot be read. Did you mean `top_p`? Remove it."),
    (formats.from_llamacpp, {"topk": 3}, "Creative.yaml: `topk` is not a llama.cpp request key"),
    (formats.from_llamacpp, {"samplers": ["top_k", "nucleus"]}, "Creative.yaml: `nucleus` is not a llama.cpp `samplers` key"),
    (formats.from_llamacpp, {"mirostat": 1}, "Creative.yaml: `mirostat` must be 0 (off) or 2"),
    (formats.from_webui, "top_p: 1.5\n", "Creative.yaml: `top_p` must be in (0, 1], but is 1.5."),
])
def test_a_bad_key_names_the_file_and_the_key(read, data, words):
    with pytest.raises(ParamError) as e:
        read(data, "Creative.yaml")
    assert str(e.value).startswith(words), str(e.value)


def test_read_any_tells_the_formats_apart_by_their_keys():
    assert formats.read_any('{"top_k": 5}', "r.json")[1] == "llama.cpp request"
    assert formats.read_any("top_p: 0.9\ntemperature_last: true\n", "p.yaml")[1] == "text-generation-webui preset"
    with pytest.raises(ParamError, match="`topp` is not a parameter. Did you mean `top_p`?"):  # a typo in ours: ours
        formats.read_any("topp: 0.9\n", "p.yaml")
    p, kind, _ = formats.read_any("description: mine\ntop_p: 0.9\nsampler_order: min_p,temperature\n", "m.yaml")
    assert kind == "Sampling Playground preset" and p.sampler_order == "min_p,temperature"


def test_the_command_line_exports_and_imports(capsys, tmp_path):
    assert main(["presets", "--export", "llamacpp", "llamacpp-defaults"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["samplers"][-1] == "temperature" and body["top_k"] == 40
    assert main(["presets", "--export", "webui", "beam-search"]) == 0
    out, err = capsys.readouterr()
    assert "# Not in a text-generation-webui preset: max_new_tokens 96, num_beams 4" in out
    assert "note: not carried: num_beams 4" in err
    (tmp_path / "Creative.yaml").write_text("min_p: 0.02\nxtc_probability: 0.5\nguidance_scale: 1.5\n")
    assert main(["presets", "--import", str(tmp_path / "Creative.yaml")]) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out) == {"description": "Imported from Creative.yaml (a text-generation-webui preset).",
                                   "min_p": 0.02, "xtc_probability": 0.5,
                                   "sampler_order": "text-generation-webui"}  # its default order comes along
    assert err.startswith("note: `guidance_scale` 1.5 is ignored")
    (tmp_path / "bad.json").write_text('{"topk": 3}')
    assert main(["presets", "--import", str(tmp_path / "bad.json")]) == 2
    assert "bad.json: `topk` is not a llama.cpp request key" in capsys.readouterr().err


def test_the_page_upload_takes_the_peers_formats_too():
    from playground.ui import presets_panel
    from playground.ui.controls import NAMES

    out = presets_panel.upload('{"temperature": 0.5, "top_k": 7, "samplers": ["top_k", "temperature"]}', "llama.json", {})
    values = dict(zip(NAMES, out[2:-1]))
    assert (values["temperature"], values["top_k"], values["top_p"], values["min_p"]) == (0.5, 7, 1.0, 0.0)
    assert "llama.json" in out[-1] and out[0]["llama"].startswith("description: Imported from llama.json (a llama.cpp request)")
    out = presets_panel.upload("min_p: 0.02\nguidance_scale: 1.5\n", "tgw-creative.yaml", {})
    assert dict(zip(NAMES, out[2:-1]))["sampler_order"] == "text-generation-webui"
    assert "guidance_scale" in out[0]["tgw-creative"]  # the note is in the kept preset's description
    out = presets_panel.upload('{"topk": 3}', "bad.json", {})
    assert "Preset not loaded, nothing changed: bad.json: `topk` is not a llama.cpp request key" in out[-1]


@pytest.mark.parametrize("p", [build(dry_penalty_last_n=64), build(repetition_penalty=1.2),
                               build(dry_multiplier=0.8, dry_penalty_last_n=100), build(dry_multiplier=0.8)])
def test_webuis_one_range_carries_dry_s_and_the_penaltys(p):
    """text-generation-webui's repetition_penalty_range is DRY's range (and its repetition penalty's: ours covers
    the whole text, its 0)."""
    assert formats.from_webui(formats.to_webui(p)) == p
    assert formats.from_webui("dry_multiplier: 0.8\n").dry_penalty_last_n == 1024  # its default range
