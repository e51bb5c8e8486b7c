"""llama.cpp's command line and /completion body as exports (issue 8 §4): flags worked out by hand from
common/arg.cpp, round trips through the flags for every shipped preset they carry, the command line's
`--export llama-cli`, and the page's export handler returning both new targets."""

from __future__ import annotations

import shlex

import pytest

from playground import formats, llama_cli
from playground.cli import main
from playground.params import ParamError, build
from playground.presets import list_presets, load_preset


def flags(p) -> dict[str, list[str]]:
    words = shlex.split(llama_cli.to_llama_cli(p).replace("\\\n", " ").replace("$'\\n'", "NEWLINE"))
    assert words[:3] == ["llama-cli", "-m", "MODEL.gguf"]
    out: dict[str, list[str]] = {}
    for flag, value in zip(words[3::2], words[4::2]):
        out.setdefault(flag, []).append(value)
    return out


def test_the_flags_by_hand():
    f = flags(build(temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, typical_p=0.95, repetition_penalty=1.1, seed=42,
                    max_new_tokens=64, presence_penalty=0.3, top_n_sigma=1.5, sampler_order="temperature_last"))
    assert f["--temp"] == ["0.7"] and f["--top-k"] == ["20"] and f["--top-p"] == ["0.9"] and f["--min-p"] == ["0.05"]
    assert f["--typical"] == ["0.95"] and f["--repeat-penalty"] == ["1.1"] and f["--repeat-last-n"] == ["-1"]
    assert f["-s"] == ["42"] and f["-n"] == ["64"] and f["--presence-penalty"] == ["0.3"] and f["--top-nsigma"] == ["1.5"]
    assert f["--samplers"] == ["penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature"]
    f = flags(build(dry_multiplier=0.8, dry_base=2.0, dry_allowed_length=3, dry_penalty_last_n=256, dry_sequence_breakers=["\n", "'"],
                    xtc_probability=0.5, xtc_threshold=0.2, dynatemp_range=0.5, dynatemp_exponent=2.0, logit_bias={"42": -5.0}))
    assert f["--dry-multiplier"] == ["0.8"] and f["--dry-base"] == ["2.0"] and f["--dry-allowed-length"] == ["3"]
    assert f["--dry-penalty-last-n"] == ["256"] and f["--dry-sequence-breaker"] == ["NEWLINE", "'"]  # repeated, in order
    assert f["--xtc-probability"] == ["0.5"] and f["--xtc-threshold"] == ["0.2"]
    assert f["--dynatemp-range"] == ["0.5"] and f["--dynatemp-exp"] == ["2.0"] and f["-l"] == ["42-5.0"]
    assert "-s" not in f  # no seed: llama-cli draws one
    f = flags(build(mirostat=2, mirostat_tau=4.0, mirostat_eta=0.2, dry_sequence_breakers=[]))
    assert f["--mirostat"] == ["2"] and f["--mirostat-ent"] == ["4.0"] and f["--mirostat-lr"] == ["0.2"]
    assert f["--dry-sequence-breaker"] == ["none"]  # its word for no breakers at all
    assert flags(build(do_sample=False))["--temp"] == ["0.0"]  # llama.cpp: temperature 0 takes the most likely token


def test_every_shipped_preset_the_flags_carry_comes_back_equal():
    carried = 0
    for name in list_presets():
        p = load_preset(name)
        lost = llama_cli.cli_not_carried(p)
        notes: list[str] = []
        again = llama_cli.from_llama_cli(llama_cli.to_llama_cli(p), notes=notes)
        assert again == formats.from_llamacpp(formats.to_llamacpp(p)), name  # the flags mean what the body means
        if not lost:
            assert again == p and notes == [], (name, again.changed(), notes)
            carried += 1
    assert carried >= 11


def test_what_the_flags_cannot_carry_is_named():
    p = build(stop=["\n\n"], logit_bias={"Hello world": 2.0}, top_a=0.2)
    lost = llama_cli.cli_not_carried(p)
    assert any(x.startswith("top_a 0.2") for x in lost) and any(x.startswith("stop ['\\n\\n']") for x in lost)
    assert any("'Hello world'" in x and "token ids only" in x for x in lost)
    assert "-l" not in flags(p)


@pytest.mark.parametrize("line, words", [
    ("llama-cli --temp 0.5 --topk 3", "`--topk` is not a llama-cli sampling flag read here. Did you mean `--top-k`?"),
    ("llama-cli --temp hot", "`--temp` must be a number, but is 'hot'"),
    ("llama-cli --top-k", "`--top-k` needs a value after it"),
    ("llama-cli -l 15043", "`-l` must be TOKEN_ID+BIAS or TOKEN_ID-BIAS"),
    ("llama-cli --temp 2.5 --samplers 'top_k;nucleus'", "`nucleus` is not a llama.cpp `samplers` key"),
])
def test_a_bad_line_names_the_flag(line, words):
    with pytest.raises(ParamError) as e:
        llama_cli.from_llama_cli(line, source="run.sh")
    assert str(e.value).startswith("run.sh") and words in str(e.value), str(e.value)


def test_a_hand_written_line_reads_with_llamas_defaults():
    line = "llama-cli -m x.gguf -cnv --temperature 0.6 --top-k 20 --seed 7 -l 17+1.5 --samplers 'top_k;temperature'"
    p = llama_cli.from_llama_cli(line)
    assert p == build(temperature=0.6, top_k=20, seed=7, logit_bias={"17": 1.5}, top_p=1.0, min_p=0.0, max_new_tokens=p.max_new_tokens,
                      sampler_order=p.sampler_order)  # top_p/min_p left out of --samplers: off
    assert p.sampler_order.startswith("top_k,temperature")  # its order: top-k, then temperature


def test_the_command_line_exports_llama_cli(capsys):
    assert main(["presets", "--export", "llama-cli", "dry-breaks-the-loop"]) == 0
    out, err = capsys.readouterr()
    assert llama_cli.from_llama_cli(out) == load_preset("dry-breaks-the-loop") and err == ""
    assert main(["presets", "--export", "llama-cli", "beam-search"]) == 0
    assert "note: not carried: num_beams 4" in capsys.readouterr().err


def test_the_page_exports_a_completion_body_and_llama_cli_flags():
    from playground.ui import controls, presets_panel

    p = build(temperature=0.6, top_k=20, dry_multiplier=0.8, smoothing_factor=0.3)
    history = [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]
    py, oa, body, cli, note = presets_panel.export_code(history, "Be brief.", None, *controls.to_values(p))
    sent = llama_cli.body_from_snippet(body)
    assert sent["prompt"] == "Name a colour." and sent["n_probs"] == llama_cli.N_PROBS
    assert sent["temperature"] == 0.6 and sent["top_k"] == 20 and sent["dry_multiplier"] == 0.8 and "smoothing_factor" not in sent
    assert llama_cli.from_llama_cli(cli) == formats.from_llamacpp(sent)
    assert "The llama.cpp request cannot carry: smoothing_factor 0.3." in note
    assert "The llama-cli line cannot carry: smoothing_factor 0.3." in note
    *skipped, message = presets_panel.export_code(history, "", None, *controls.to_values(p)[:-1], "bogus-order")
    assert "Not exported" in message and len(skipped) == 4
