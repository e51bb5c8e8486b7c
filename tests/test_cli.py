"""The command line: `cli.main` in this process (capsys), and one real subprocess as a smoke test.

In-process runs reuse the session's loaded model (`loader.load` caches it), so the CLI's own code is
tested without loading torch and the model again per case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from playground.cli import main
from playground.params import SPECS, build
from playground.presets import list_presets

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Name three colours."


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys):
    """`python -m playground *args`, run in this process: its exit status and what it printed."""
    def run(*args: str) -> Run:
        code = main(list(args))
        out, err = capsys.readouterr()
        return Run(code, out, err)
    return run


@pytest.fixture
def gen(cli):
    return lambda *args: cli("generate", "--prompt", PROMPT, "--dtype", "float32", *args)


def test_no_command_says_what_it_can_do(cli):
    r = cli()
    assert r.returncode == 0 and r.stderr == ""
    for command in ("generate", "params", "presets", "app.py", "README.md"):
        assert command in r.stdout


def test_the_real_command_line_in_a_subprocess(engine):
    """The one smoke test through `python -m playground`: a greedy reply is the engine's reply."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8"}
    r = subprocess.run([sys.executable, "-m", "playground", "generate", "--prompt", PROMPT, "--dtype", "float32",
                        "--preset", "greedy", "--set", "max_new_tokens=8"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    *_, done = engine.stream([{"role": "user", "content": PROMPT}], build(do_sample=False, max_new_tokens=8))
    assert r.stdout == done.text + "\n"


# --- no model needed: these fail or finish before a model is loaded --------------------------------------
def test_params_lists_every_parameter_with_default_and_range(cli):
    r = cli("params")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if line.startswith("  ")}
    for name, spec in SPECS.items():
        assert name in rows
        assert spec.help in rows[name]
    assert "(0, 1]" in rows["top_p"] and "transformers | temperature_last" in rows["sampler_order"]


def test_presets_lists_every_preset_with_its_values(cli):
    r = cli("presets")
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines() if line and not line.startswith(" ")]
    assert names == list_presets()
    assert "temperature=0.8 top_k=40 top_p=0.95 min_p=0.05 sampler_order=temperature_last" in r.stdout


@pytest.mark.parametrize("args, expected", [
    (["--set", "top_p=1.5"], "error: `top_p` must be in (0, 1], but is 1.5. Use 1 to turn top-p off."),
    (["--set", "topp=0.9"], "error: `topp` is not a parameter, but was given 0.9. Did you mean `top_p`?"),
    (["--set", "top_p"], "error: `--set` takes key=value, but got 'top_p'."),
    (["--set", "num_beams=2", "--set", "stop=[x]"], "error: `stop` must be empty with beam search"),
    (["--set", "min_new_tokens=9", "--set", "max_new_tokens=4"], "error: `min_new_tokens` must be <= `max_new_tokens`"),
    (["--preset", "gredy"], "error: preset 'gredy' is unknown. Did you mean 'greedy'?"),
    (["--top-n", "-1"], "error: `--top-n` must be >= 0, but is -1."),
])
def test_bad_parameters_exit_2_with_a_message_naming_the_field(gen, args, expected):
    r = gen(*args)
    assert r.returncode == 2
    assert expected in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_bad_preset_file_names_the_file(gen, tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("temperature: hot\n")
    r = gen("--preset", str(bad))
    assert r.returncode == 2 and "mine.yaml: `temperature` must be a number, but is 'hot'." in r.stderr


def test_a_preset_path_that_is_no_preset_is_not_printed(gen, tmp_path):
    # `--preset /etc/passwd` used to print the file in its error.
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root-secret-gecos:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/sh\n")
    r = gen("--preset", str(passwd))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{passwd}: must be a mapping of parameter names to values" in r.stderr and "secret" not in r.stderr


def test_set_overrides_the_preset():
    from playground.cli import params_from_args

    p = params_from_args("llamacpp-defaults", ["top_k=5", 'stop=["\\n\\n", "User:"]'], seed=3)
    assert p == build(temperature=0.8, top_k=5, top_p=0.95, min_p=0.05, sampler_order="temperature_last",
                      stop=["\n\n", "User:"], seed=3)


# --- the real model -------------------------------------------------------------------------------------
@pytest.mark.model
def test_greedy_text_is_the_engines_reply(gen, engine):
    r = gen("--preset", "greedy", "--set", "max_new_tokens=8")
    assert r.returncode == 0, r.stderr
    *_, done = engine.stream([{"role": "user", "content": PROMPT}], build(do_sample=False, max_new_tokens=8))
    assert r.stdout == done.text + "\n"
    assert f"[{done.finish_reason}: {len(done.token_ids)} tokens" in r.stderr


@pytest.mark.model
def test_json_steps_and_seed_reproduce_the_text_run(gen, engine):
    args = ("--seed", "1234", "--set", "max_new_tokens=6", "--set", "top_k=40")
    text = gen(*args)
    js = gen(*args, "--json", "--top-n", "3")
    assert text.returncode == 0 and js.returncode == 0, text.stderr + js.stderr
    lines = [json.loads(line) for line in js.stdout.splitlines()]
    *steps, final = lines
    assert final["seed"] == 1234 and final["tokens"] == len(steps) == len(final["token_ids"])
    assert final["finish_reason"] in ("length", "eos") and final["tokens_per_second"] > 0
    assert final["text"] + "\n" == text.stdout  # same seed, same reply, across runs and output modes
    for i, s in enumerate(steps):
        assert s["step"] == i and s["token_id"] == final["token_ids"][i]
        assert 0 < s["prob"] <= 1 and 3 <= len(s["candidates"]) <= 4
        chosen = [c for c in s["candidates"] if c["id"] == s["token_id"]]
        assert chosen and chosen[0]["kept"] and chosen[0]["removed_by"] is None
        for c in s["candidates"]:
            assert set(c) == {"id", "token", "prob_raw", "prob_final", "kept", "removed_by"}
            assert c["kept"] == (c["removed_by"] is None)
            assert c["kept"] or c["prob_final"] == 0
            assert c["removed_by"] in (None, "top_k")


@pytest.mark.model
def test_beam_search_prints_the_beams_with_scores(gen, engine):
    r = gen("--set", "num_beams=3", "--set", "num_return_sequences=2", "--set", "max_new_tokens=5", "--json")
    assert r.returncode == 0, r.stderr
    (final,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert [b["rank"] for b in final["beams"]] == [1, 2]
    assert final["beams"][0]["score"] >= final["beams"][1]["score"]
    assert final["text"] == final["beams"][0]["text"] and final["seed"] is None


@pytest.mark.model
def test_logit_bias_of_several_tokens_exits_2(gen, engine):
    r = gen("--set", "logit_bias={'hippopotamus': -100}", "--set", "max_new_tokens=2")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "`logit_bias` keys must be exactly one token, but 'hippopotamus' is" in r.stderr


def test_model_that_is_not_a_model_exits_2(cli, tmp_path):
    r = cli("generate", "--prompt", "hi", "--model", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"`{tmp_path}` is a folder but not a model: it has no config.json" in r.stderr
