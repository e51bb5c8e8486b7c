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


def _keys(demo) -> tuple[dict[str, I18nData], list]:
    """(elem_id.prop -> translation key, the texts that are not keys) over a built page; each key has its Chinese."""
    en, zh = i18n.I18N.translations_dict["en"], i18n.I18N.translations_dict["zh"]
    assert set(en) == set(zh)
    keys, untranslated = {}, []
    for i, block in enumerate(demo.blocks.values()):
        for prop, value in _texts(block).items():
            if isinstance(value, I18nData):
                assert value.key in en and CJK.search(zh[value.key]) or value.key in SAME, value.key
                keys[f"{getattr(block, 'elem_id', None) or i}.{prop}"] = value
            elif not (prop == "label" and value in SPECS or prop == "placeholder" and value in EXAMPLES):
                untranslated.append((type(block).__name__, getattr(block, "elem_id", None), prop, value))
    # As they are on purpose: parameter names, example values, the switch's own words, the order's listing (stage names).
    return keys, [u for u in untranslated if u[1] not in ("lang-switch-box", "order-list")]


def test_every_label_of_the_page_is_a_translation_key(engine):
    from playground.ui.layout import build_demo

    demo = build_demo(engine)
    try:
        keys, others = _keys(demo)
        assert not others, others
        assert len(keys) > 100 and len(i18n.I18N.translations_dict["en"]) > 100
    finally:
        demo.close()


@pytest.mark.parametrize("kind", ["openai", "llamacpp"])
def test_every_label_of_the_remote_page_is_a_translation_key(kind):
    pytest.importorskip("openai")
    from playground.limits import Limits
    from playground.remote import OpenAIBackend
    from playground.ui.remote_page import build_remote_demo

    backend = OpenAIBackend("http://127.0.0.1:9/v1", "SmolLM2-135M-Instruct", kind=kind)  # built, never asked: no server
    demo = build_remote_demo(backend, Limits(public=True))
    try:
        keys, others = _keys(demo)
        assert not others, others
        zh = {where: i18n.zh(key.key) for where, key in keys.items()}
        assert zh["intro.value"].startswith("# 采样游乐场\n与 **SmolLM2-135M-Instruct** 对话，它运行在远程服务器上（")
        assert zh["remote-unavailable.value"].startswith("**在远程后端上不可用：采样器链视图和链表格")
        top = {"openai": "服务器给出的前 20 个 token，它没有说明", "llamacpp": "服务器在其采样器处理后给出的前 20 个 token"}[kind]
        assert zh["inspect-info.value"].startswith(f"**回复中一个 token 的候选**：{top}") and f"（{top}" in zh["plot-note.value"]
        assert zh["plot.label"] == "服务器给出的头部 token"
        assert zh["param-top_a.info"].startswith("此服务器上不可用：该服务器（") and "范围 [0, 1]" in zh["param-top_a.info"]
        assert zh["param-num_beams.info"].startswith("此服务器上不可用：远程服务器只流式返回一条采样出的回复")
        # the caps this page enforces, none it does not (no local tokenizer counts a prompt)
        caps = keys["caps.value"].key
        assert "prompt" not in caps and caps.endswith(" · public mode.")
        assert zh["caps.value"] == "本实例的上限：回复最多 1024 个 token（默认 128），最多 64 条回复排队 · 公开模式。"
        label = {"openai": "OpenAI 兼容服务器", "llamacpp": "llama.cpp 服务器"}[kind]
        assert f"远程服务器上（{label}）" in zh["intro.value"] and f"该服务器（{label}）不接受" in zh["param-top_a.info"]
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


def test_the_compare_and_share_lines_in_chinese(chinese):
    from playground import compare, share
    from playground.fields import SAMPLER_ORDERS
    from playground.ui import compare_panel, share_panel

    a, b = compare.Token(1, 11, " cat", 0.5, 0.1), compare.Token(1, 12, " dog", 0.4, 0.2)
    same = [compare.Token(0, 10, "A", 0.9, 0.9)]
    why = compare._why(a, b, compare.Fate(None, 0.1), compare.Fate("dynamic temperature", 0.0))  # as compare.py says it
    parted = compare.Comparison(7, same + [a], same + [b], None, None, compare.Parting(1, a, b, compare.Fate(None, 0.1),
                                                                                      compare.Fate("dynamic temperature", 0), why))
    note, _, table, *_ = compare_panel._shown(parted, False)
    assert note == ("随机种子 7，比较中：它们在第 2 个 token 分开：A 取了 ' cat'，B 取了 ' dog'。"
                    "A 的「动态温度」去掉了 B 的 token ' dog'。")
    assert "<th>步</th><th>A 的 token</th><th>A 下的 p</th><th>B 下的 p</th><th>B 的 token</th>" in table and "在这里分开" in table
    draw = compare._why(a, b, compare.Fate(None, 0.1), compare.Fate(None, 0.2))
    assert i18n.say(draw).startswith("两组设置都保留了这两个 token；同一个随机数落在了不同的 token 上，"
                                     "因为两边的概率不同（' cat'：A 0.5，")
    both = compare._why(a, b, compare.Fate("top-k", 0.0), compare.Fate("min-p", 0.0))
    assert i18n.say(both) == "A 的「min-p」去掉了 B 的 token ' dog'；B 的「top-k」去掉了 A 的 token ' cat'。"
    going = compare.Comparison(7, same, same, None, None, None)
    assert compare_panel._shown(going, False)[0] == "随机种子 7，比较中：目前为止逐个 token 都相同（分别 1 和 1 个 token）"
    assert i18n.say(compare.Comparison(7, same, [], None, None, None).note) == "目前为止逐个 token 都相同（分别 1 和 0 个 token）"
    values = controls.values_of(controls.mirror())
    start = controls.to_params(values)
    assert compare_panel.copy_a(*values, start=start)[1] == "B 现在是 A 的副本：修改它，然后点“比较”。"
    assert compare_panel.swap("temperature 2", *values, start=start)[1] == (
        "⚠️ 未交换：设置 B 第 1 行必须是 key=value，但现在是 'temperature 2'。例如写 temperature=1.3。")
    assert compare_panel.apply_b("", start=start)[0] == "主控件现在是设置 B（全部为默认值）。"
    (refused,) = compare_panel.run(None, "Hi", [], "", "", -1, *values, start=start)
    assert refused[0] == "⚠️ 未比较：`seed` 必须是 [0, 2^32) 之内的整数，但现在是 -1。"
    (refused,) = compare_panel.run(None, "", [], "", "", 7, *values, start=start)
    assert refused[0] == "⚠️ 未比较：没有可回答的用户消息。输入一条消息（它不会被发送），然后点“比较”。"
    # the share panel: an opened link says what it holds; a session not chosen says so
    convo = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    link = share.link_state(start.replace(temperature=0.7), "", convo, None, None)
    opened = share_panel.opening(SimpleNamespace(query_params={"s": link}))
    assert opened[3] == "已打开链接：2 条消息，设置 temperature = 0.7。"
    at = share_panel.opening(SimpleNamespace(query_params={"s": share.link_state(start, "", convo, 1, None)}))
    assert at[3] == "已打开链接：2 条消息，设置 全部为默认值；图中显示上一条回复的第 2 步（不会重新运行这条回复）。"
    assert share_panel.open_session(None, "", None, 30, "linear", {})["status"] == "⚠️ 未选择文件：请选择一个要打开的会话文件（JSON）。"
    # the sampler order's choices: each named order's stages and source, in Chinese
    order = controls.make_control("sampler_order")
    labels = [label for label, _ in order.choices]
    assert all(isinstance(label, I18nData) for label in labels) and [label.key for label in labels] == list(SAMPLER_ORDERS.values())
    assert i18n.zh(SAMPLER_ORDERS["temperature_last"]) == ("惩罚、top-n-sigma、top-k、典型采样、top-p、min-p、XTC、平滑、"
                                                          "epsilon、eta、无尾采样、top-a、温度、动态温度（llama.cpp）")


def test_the_inspector_in_chinese(engine, chinese):
    from playground import plotdata
    from playground.params import build
    from playground.ui import step_view

    convo = [{"role": "user", "content": "Name a colour."}]
    dec = engine.decoder(chat.model_messages(convo), build(temperature=0.8, top_k=20, seed=3, max_new_tokens=2), top_n=chat.TOP_N,
                         report=True)
    while not dec.done:
        dec.step()
    shown = step_view.show(engine, chat.Reply.start(convo, dec), 0)
    chain, cands = shown[2]["value"], shown[5]["value"]
    assert chain["headers"] == ["#", "阶段", "考虑的", "保留", "被去掉", "去掉的概率质量", "之前最可能的", "之后最可能的"]
    assert [row[1] for row in chain["data"]] == ["温度", "top-k"]  # each stage by its Chinese name (top-k as it is)
    assert cands["headers"] == ["token", "id", "模型 p", "最终 p", "结果"]
    assert [row[1] for row in step_view.chain_frame(dec.steps[0].stages)["data"]] == ["温度", "top-k"]  # the recorded rows
    note = i18n.say(plotdata.from_step(dec.steps[0]).notes[0])
    assert note.startswith("生成的第 1 个 token：") and f"模型中排第 {dec.steps[0].rank}）。柱是生成时记录下的模型自身的概率" in note
