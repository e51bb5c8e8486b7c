"""The page in English and Simplified Chinese (ui/i18n.py): every key has both languages, every label of the
built page is a translation key (or deliberately a parameter's name), and the handlers' text follows the
visitor's language (Accept-Language, the switch's cookie, `?lang=`), English for API clients."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.context import LocalContext
from gradio.i18n import I18nData

from playground.params import SPECS, ParamError
from playground.ui import chat, controls, i18n, plot
from playground.ui.i18n_zh import HELP_ZH, ZH

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # Chinese characters and punctuation
SAME = {"English", "B := A"}  # the same in both languages on purpose
EXAMPLES = {"my-preset", "User:", '" cat": -100', "temperature=1.3"}  # placeholders that show a value to type, as typed


def visitor(accept: str = "", cookie: str | None = None, page: str = "http://127.0.0.1/"):
    """What gradio hands a handler as its request: headers and cookies."""
    return SimpleNamespace(headers={"accept-language": accept, "referer": page},
                           cookies={i18n.COOKIE: cookie} if cookie else {})


@pytest.fixture
def chinese():
    """Handlers run as for a visitor whose browser asks for Chinese."""
    token = LocalContext.request.set(visitor("zh-CN,zh;q=0.9"))
    yield
    LocalContext.request.reset(token)


def test_every_key_has_chinese_and_every_parameter_its_help():
    assert set(HELP_ZH) == set(SPECS)
    for key, zh in {**ZH, **HELP_ZH}.items():
        assert zh.strip(), key
        assert CJK.search(zh) or key in SAME, f"{key!r} is not translated: {zh!r}"
        assert sorted(re.findall(r"\{(\w+)\}", key)) == sorted(re.findall(r"\{(\w+)\}", ZH.get(key, key))), key  # placeholders
        assert sorted(re.findall(r"`\w+`", key)) == sorted(re.findall(r"`\w+`", ZH.get(key, key))), key  # names kept


def test_each_parameter_help_line_translates_whole():
    for name in SPECS:
        zh = i18n.zh(controls.help_text(name))
        assert zh and CJK.search(zh), name
        assert SPECS[name].range_text in zh or SPECS[name].kind not in ("float", "int", "bias"), (name, zh)


def _texts(block) -> dict[str, object]:
    """The user-visible text properties of a component (label, info, placeholder, a button's or Markdown's value)."""
    out = {k: getattr(block, k, None) for k in ("label", "info", "placeholder")}
    if isinstance(block, (gr.Button, gr.Markdown, gr.HTML)):
        out["value"] = block.value
        if isinstance(block.value, str) and block.value.startswith("__i18n__"):  # a key, as gradio keeps a value
            out["value"] = I18nData(json.loads(block.value.removeprefix("__i18n__"))["key"])
    return {k: v for k, v in out.items() if v not in (None, "")}


def test_every_label_of_the_page_is_a_translation_key(engine):
    from playground.ui.layout import build_demo

    demo = build_demo(engine)
    try:
        en, zh = i18n.I18N.translations_dict["en"], i18n.I18N.translations_dict["zh"]
        assert set(en) == set(zh) and len(en) > 100
        seen, untranslated = 0, []
        for block in demo.blocks.values():
            for prop, value in _texts(block).items():
                if isinstance(value, I18nData):
                    assert value.key in en and CJK.search(zh[value.key]) or value.key in SAME, value.key
                    seen += 1
                elif not (prop == "label" and value in SPECS or prop == "placeholder" and value in EXAMPLES):
                    untranslated.append((type(block).__name__, getattr(block, "elem_id", None), prop, value))
        # As they are on purpose: parameter names, example values, the switch's own words, the order's listing (stage names).
        others = [u for u in untranslated if u[1] not in ("lang-switch-box", "order-list")]
        assert not others, others
        assert seen > 100
    finally:
        demo.close()


def test_the_visitors_language():
    assert i18n.lang(visitor("zh-CN,zh;q=0.9,en;q=0.8")) == "zh"
    assert i18n.lang(visitor("en-US,en;q=0.9,zh-CN;q=0.8")) == "en"
    assert i18n.lang(visitor("zh-CN", cookie="en")) == "en"  # the switch wins over the browser
    assert i18n.lang(visitor("en-US", cookie="zh")) == "zh"
    assert i18n.lang(visitor("en-US", cookie="en", page="http://x/?lang=zh")) == "zh"  # and the address over both
    assert i18n.lang(None) == "en"  # no request (API, tests): English
    assert i18n.tr("Send") == "Send" and i18n.say("Stopping…") == "Stopping…"


def test_validation_messages_in_chinese(chinese):
    values = controls.values_of(controls.mirror())
    values[controls.NAMES.index("top_p")] = 1.5
    with pytest.raises(ParamError) as e:
        controls.to_params(values)
    (english,) = e.value.messages
    assert english == "`top_p` must be in (0, 1], but is 1.5. Use 1 to turn top-p off."
    assert chat.problem(english) == "⚠️ `top_p` 必须在 (0, 1] 之内，但现在是 1.5。用 1 关闭 top-p。"
    values[controls.NAMES.index("top_k")] = -1
    with pytest.raises(ParamError) as e:
        controls.to_params(values)
    both = i18n.say(" ".join(e.value.messages))
    assert "`top_k` 必须在 [0, 1000] 之内，但现在是 -1。用 0 关闭 top-k。" in both and "`top_p` 必须在" in both
    assert i18n.say("Preset not saved: " + english).startswith("预设未保存：`top_p` 必须在 (0, 1] 之内")
    assert i18n.say("something the core says that nobody translated") == "something the core says that nobody translated"


def test_plot_and_status_in_the_visitors_language(engine, chinese):
    settings = controls.mirror()
    ctx = plot.context(engine, [], None, "Tell me a story.")  # not an example: other tests count the passes for those
    plot.compute(engine, ctx)
    figure, note = plot.live(engine, ctx, 30, "log", *controls.values_of(settings))
    fig = json.loads(figure)
    layout = fig["layout"]
    assert layout["yaxis"]["title"]["text"] == "概率（对数）" and layout["yaxis2"]["title"]["text"] == "累积"
    assert layout["title"]["text"] == "下一个 token"
    names = {t["name"] for t in fig["data"]}
    assert {"保留", "最终概率（重新归一化）", "累积概率"} <= names
    assert next(t for t in fig["data"] if t["name"] == "保留")["legendgroup"] == "kept"
    assert "个 token 中有 **" in note and "显示前 30 个" in note and "尚未发送" in note
    assert chat.stop({}) == "当前没有正在生成的内容。"
    assert chat.stopped("正在停止……", [1, 2]) == "**cancelled**: 在结束前被停止 · 2 个 token"
