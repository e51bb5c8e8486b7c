"""Presets: every shipped file loads, stores only differences, and bad files name the file and field."""

from __future__ import annotations

import pytest
import yaml

from playground import presets
from playground.params import DEFAULTS, ParamError, build

SHIPPED = presets.list_presets()


def test_required_presets_are_shipped():
    for name in ("greedy", "balanced", "creative", "precise", "beam-search", "openai-defaults", "llamacpp-defaults",
                 "high-temperature-derails", "repetition-trap", "repetition-fix", "min-p-vs-temperature"):
        assert name in SHIPPED


def test_everyday_presets_come_first_then_alphabetical():
    first = [n for n in presets.FIRST if n in SHIPPED]
    assert SHIPPED[: len(first)] == first
    rest = SHIPPED[len(first):]
    assert rest == sorted(rest, key=str.lower)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_stores_only_differences_and_round_trips(name):
    values, description, _ = presets.read_preset(name)
    params = presets.load_preset(name)
    assert params.changed() == values  # nothing stored equals its default, nothing is lost
    assert description, f"{name} needs a description"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_preset_description_is_the_files_text_and_not_a_parameter(name):
    raw = yaml.safe_load((presets.PRESETS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert presets.preset_description(name) == raw["description"].strip()
    # every other key of the file is a parameter, and loads as one
    assert presets.load_preset(name) == build({k: v for k, v in raw.items() if k != "description"})


def test_preset_values_mean_what_their_names_say():
    assert presets.load_preset("greedy").mode == "greedy"
    beam = presets.load_preset("beam-search")
    assert beam.mode == "beam" and beam.num_beams == 4 and beam.stop == ()
    assert presets.load_preset("openai-defaults") == DEFAULTS
    llama = presets.load_preset("llamacpp-defaults")
    assert (llama.temperature, llama.top_k, llama.top_p, llama.min_p, llama.sampler_order,
            llama.repetition_penalty) == (0.8, 40, 0.95, 0.05, "temperature_last", 1.0)
    assert presets.load_preset("high-temperature-derails").changed() == {"temperature": 2.5}
    trap, fix = presets.load_preset("repetition-trap"), presets.load_preset("repetition-fix")
    assert fix.replace(repetition_penalty=1.0) == trap and fix.repetition_penalty > 1
    mp = presets.load_preset("min-p-vs-temperature")
    assert mp.temperature == presets.load_preset("high-temperature-derails").temperature
    assert mp.min_p > 0 and mp.sampler_order == "temperature_last"


def test_misspelt_key_names_the_file_and_suggests(tmp_path):
    (tmp_path / "foo.yaml").write_text("topp: 0.9\n")
    with pytest.raises(ParamError) as e:
        presets.load_preset("foo", folder=tmp_path)
    msg = str(e.value)
    assert "foo.yaml" in msg and "`topp` is not a parameter" in msg and "Did you mean `top_p`?" in msg


def test_bad_value_names_the_file_the_field_and_the_value(tmp_path):
    (tmp_path / "bad.yaml").write_text("description: x\ntop_p: 1.5\n")
    with pytest.raises(ParamError, match=r"bad\.yaml: `top_p` must be in \(0, 1\], but is 1\.5"):
        presets.load_preset("bad", folder=tmp_path)


def test_yaml_syntax_error_names_the_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("top_p: [0.9\ntemperature: 1\n")
    with pytest.raises(ParamError, match=r"broken\.yaml: is not valid YAML"):
        presets.load_preset("broken", folder=tmp_path)


def test_non_mapping_top_level_names_the_file(tmp_path):
    (tmp_path / "list.yaml").write_text("- top_p\n- 0.9\n")
    with pytest.raises(ParamError, match=r"list\.yaml: must be a mapping"):
        presets.load_preset("list", folder=tmp_path)


def test_empty_file_is_the_defaults(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    assert presets.load_preset("empty", folder=tmp_path) == DEFAULTS


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ParamError, match=r"preset 'gredy' is unknown\. Did you mean 'greedy'\?.*Known presets: .*balanced"):
        presets.load_preset("gredy")


def test_load_by_path_only_when_allowed(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("top_k: 7\n")
    assert presets.load_preset(str(path), allow_path=True).top_k == 7  # the command line
    for given in (str(path), "../presets/greedy", "greedy.yaml", "/etc/passwd", "~/x"):  # the page: names only
        with pytest.raises(ParamError, match="chosen by its name") as e:
            presets.load_preset(given)
        assert given not in str(e.value)


SECRET = "s3cret-Value-42"


@pytest.mark.parametrize("text", [
    f"root:x:0:0:{SECRET}:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",  # a scalar
    f"{SECRET}:\nother-{SECRET}:\n",  # a mapping of odd keys (lines ending in ':')
    f"password: {SECRET}\n",  # an unknown key with a value
    f"- {SECRET}\n",  # a list
    f"top_p: [0.9\n{SECRET}: 1\n",  # broken YAML
])
def test_an_error_never_quotes_the_file(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text)
    with pytest.raises(ParamError) as e:
        presets.load_preset(str(path), allow_path=True)
    assert SECRET not in str(e.value) and str(path) in str(e.value)  # the path the local user typed, not the text


def test_a_binary_file_is_refused_with_a_message(tmp_path):
    path = tmp_path / "blob.yaml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ParamError, match="not a UTF-8 text file"):
        presets.load_preset(str(path), allow_path=True)


def test_a_huge_text_is_not_a_preset():
    with pytest.raises(ParamError, match="larger than 64 KB"):
        presets.parse_preset("top_k: 5\n" + "#" * presets.MAX_BYTES, "big.yaml")


@pytest.mark.parametrize("name", ["greedy", "Greedy", " balanced "])
def test_shipped_presets_cannot_be_overwritten(tmp_path, name):
    before = (presets.PRESETS_DIR / "greedy.yaml").read_bytes()
    for folder in (tmp_path, presets.PRESETS_DIR):
        with pytest.raises(ParamError, match="shipped with the app and cannot be overwritten"):
            presets.save_preset(build(top_k=3), name, folder=folder, overwrite=True)
    assert list(tmp_path.iterdir()) == [] and (presets.PRESETS_DIR / "greedy.yaml").read_bytes() == before


def test_save_round_trips_and_stores_only_changes(tmp_path):
    params = build(temperature=0.5, top_k=12, stop=["\n\n", "User:"], logit_bias={" cat": -100, "42": 3.5}, seed=7,
                   sampler_order="temperature_last")
    path = presets.save_preset(params, "my preset_1", folder=tmp_path, description="mine")
    stored = yaml.safe_load(path.read_text())
    assert stored.pop("description") == "mine"
    assert stored == params.changed()
    assert presets.load_preset("my preset_1", folder=tmp_path) == params
    assert presets.preset_description("my preset_1", folder=tmp_path) == "mine"
    assert "my preset_1" in presets.list_presets(tmp_path)
    assert presets.parse_preset(presets.dump_preset(params, "mine"), "x") == (params.changed(), "mine")


def test_save_defaults_gives_an_empty_preset(tmp_path):
    path = presets.save_preset(DEFAULTS, "plain", folder=tmp_path)
    assert yaml.safe_load(path.read_text()) == {}
    assert presets.load_preset("plain", folder=tmp_path) == DEFAULTS


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    presets.save_preset(build(top_k=5), "x", folder=tmp_path)
    with pytest.raises(ParamError, match="already exists"):
        presets.save_preset(build(top_k=6), "x", folder=tmp_path)
    assert presets.load_preset("x", folder=tmp_path).top_k == 5
    presets.save_preset(build(top_k=6), "x", folder=tmp_path, overwrite=True)
    assert presets.load_preset("x", folder=tmp_path).top_k == 6


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "   ", "x.yaml", "naïve?"])
def test_save_rejects_bad_names(tmp_path, name):
    with pytest.raises(ParamError, match="preset name"):
        presets.save_preset(DEFAULTS, name, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []
