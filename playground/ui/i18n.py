"""The page in English and Simplified Chinese: the translations and the visitor's language.

The English text is the key, written once where the ui uses it; `ZH` (i18n_zh.py) maps it to Chinese, and
`HELP_ZH` each parameter's one-line help (`Spec.help`, by parameter name). Parameter names (`top_p`) and
code stay as they are. Two ways to the visitor:
- Static text (labels, help, buttons, Markdown as built): `t(english)` gives gradio a translation key; the
  browser picks the language (`I18N`, passed to launch: gradio's frontend looks it up by the page's locale).
- Text made by a handler (status lines, plot labels, notes, messages from the core): `tr(template, **values)`
  translates at formatting time for the visitor of the current event (`lang()`), and `say(message)` a message
  made in English elsewhere (the core's validation), by `ZH` or `PATTERNS`; an untranslated one stays English.
The visitor's language: `?lang=zh` / `?lang=en` in the page's address, else the switch's cookie, else the
browser's (Accept-Language; the frontend reads navigator.language, the same). The switch (`switch()`, in the
page's header) sets the cookie and reloads; `LOAD_JS` makes the frontend follow the address or the cookie.
API clients send neither and get English.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import gradio as gr
from gradio.context import LocalContext

from ..params import SPECS
from .i18n_zh import HELP_ZH, ZH

COOKIE = "playground_lang"
EN_FRONT: dict[str, str] = {}  # what the frontend gets: only the keys the page uses (`t`)
ZH_FRONT: dict[str, str] = {}
I18N = gr.I18n(en=EN_FRONT, zh=ZH_FRONT)
_PREFIXES = [k for k in ZH if k.endswith(": ")]  # "Preset not saved: " + a message

_P = re.compile
# Messages that carry values: (English, with named groups) -> Chinese template; a group named say... is itself
# translated (`say`), one named `at` (" at URL", the server's address) is put between spaces, `stages` (stage labels,
# comma-separated) each translated (`_value`).
PATTERNS = [
    (_P(r"`(?P<name>\w+)` must be in (?P<range>\S+, \S+), but is (?P<value>[^ ]+)\. (?P<say>.*)"),
     "`{name}` 必须在 {range} 之内，但现在是 {value}。{say}"),
    (_P(r"Pick a value in (?P<range>\S+, \S+)\."), "请选一个 {range} 之内的值。"),
    (_P(r"`(?P<name>\w+)` must be a number in (?P<range>\S+, \S+), but is (?P<value>.*)\."),
     "`{name}` 必须是 {range} 之内的数，但现在是 {value}。"),
    (_P(r"`(?P<name>\w+)` must be a number in (?P<range>\S+, \S+), but is empty\."), "`{name}` 必须是 {range} 之内的数，但现在为空。"),
    (_P(r"`(?P<name>\w+)` must be (?P<want>a number|a whole number|a number in \S+, \S+), but is (?P<value>.*)\."),
     "`{name}` 必须是数字，但现在是 {value}。"),
    (_P(r"`min_new_tokens` must be <= `max_new_tokens`, but is (?P<a>\d+) > (?P<b>\d+)\.(?P<rest>.*)"),
     "`min_new_tokens` 必须 <= `max_new_tokens`，但现在是 {a} > {b}。"),
    (_P(r"`(?P<name>\w+)` has no effect: mirostat \((?P<m>\d+)\) replaces the sampling filters; only temperature runs\."),
     "`{name}` 不起作用：mirostat（{m}）取代了采样过滤器，只有温度仍在运行。"),
    (_P(r"`?(?P<name>\w+)`? has no effect: beam search \(num_beams = (?P<n>\d+)\) is deterministic\."),
     "{name} 不起作用：束搜索（num_beams = {n}）是确定性的。"),
    (_P(r"`?(?P<name>\w+)`? has no effect: (?P<say>.*)\."), "{name} 不起作用：{say}。"),
    (_P(r"removed by (?P<say>.+)"), "被{say}去掉"),
    (_P(r"⚠️ (?P<say>.*)"), "⚠️ {say}"),
    (_P(r"Step (?P<k>\d+)"), "第 {k} 步"),  # a step's plot title
    (_P(r"(?P<say>Default order|Temperature last|Your order|text-generation-webui)(?P<star>\*?): (?P<n>\d+) survives?"),
     "{say}{star}：留下 {n} 个"),  # an order's chart
    (_P(r"Step (?P<k>\d+) \(next token\)"), "第 {k} 步（下一个 token）"),
    (_P(r"(?P<open><(\w+) class=\"[\w-]+\">)(?P<say>[^<]+)(?P<close></\2>)"), "{open}{say}{close}"),  # a line in its element
    (_P(r"Plot not updated: (?P<say>.*)"), "图未更新：{say}"),
    # the remote backend's page (remote_page.py, remote_chat.py, remote.py's labels and errors)
    (_P(r"# Sampling playground\nChat with \*\*(?P<model>.+?)\*\* on a remote (?P<say>.+?): the plot shows what the server sent "
        r"for a token of the reply\."),
     "# 采样游乐场\n与 **{model}** 对话，它运行在远程服务器上（{say}）：图中显示服务器为回复中某个 token 发来的内容。"),
    (_P(r"the server's top (?P<n>\d+)"), "服务器给出的前 {n} 个 token"),
    (_P(r"the server's top (?P<n>\d+), before its samplers"), "服务器在其采样器处理前给出的前 {n} 个 token"),
    (_P(r"the server's top (?P<n>\d+), after its samplers"), "服务器在其采样器处理后给出的前 {n} 个 token"),
    (_P(r"the server's top (?P<n>\d+) \(it does not say whether before or after its samplers\)"),
     "服务器给出的前 {n} 个 token，它没有说明是在其采样器处理前还是处理后"),
    (_P(r"\*\*A reply token's candidates\*\*: (?P<say>.+)\."), "**回复中一个 token 的候选**：{say}。"),
    (_P(r"Send a message: the plot then shows each token of the reply as the server reported it \((?P<say>.+)\)\. "
        r"Click a token of the reply to see its step\."),
     "发送一条消息：图中随后会按服务器报告的样子显示回复的每个 token（{say}）。点击回复中的一个 token，查看它的那一步。"),
    (_P(r"\*\*Unavailable on this remote backend: the chain view and the chain table, the live redraw of the plot as a control "
        r"moves, the token inspector's Step, Force and Branch, and the A/B compare\.\*\* Each needs the model's full logits at "
        r"every step, and a remote server sends only its top (?P<top>\d+) tokens per step \((?P<say>.+)\)\. What the server "
        r"sent is shown as sent, and nothing is recomputed or made up\. Run the playground with its local engine "
        r"\(`python app\.py`\) for the exact view\."),
     "**在远程后端上不可用：采样器链视图和链表格、随控件移动而实时重绘的图、Token 检查器的单步、强制和分支，以及 A/B 比较。**"
     "它们每一步都需要模型的完整 logits，而远程服务器每步只发送它的前 {top} 个 token（{say}）。服务器发来的内容按原样显示，"
     "不会重新计算，也不会编造。要看精确的视图，请用本地引擎运行游乐场（`python app.py`）。"),
    (_P(r"Not on this server: (?P<say>.+?)\. (?P<say2>.+)"), "此服务器上不可用：{say}。{say2}"),
    (_P(r"the server \((?P<say>[^)]+)\) does not take it"), "该服务器（{say}）不接受这个参数"),
    (_P(r"Caps on this instance: replies up to (?P<cap>\d+) tokens \(default (?P<d>\d+)\), (?P<q>\d+) replies may wait"
        r"(?P<say> · public mode)?\."),
     "本实例的上限：回复最多 {cap} 个 token（默认 {d}），最多 {q} 条回复排队{say}。"),
    (_P(r"`inspect step` must be a token of the reply \(1 to (?P<n>\d+)\), but is (?P<k>-?\d+)\."),
     "`inspect step` 必须是回复中的一个 token（1 到 {n}），但现在是 {k}。"),
    (_P(r"`(?P<name>\w+)` is not taken by a (?P<say>.+?), but is (?P<value>.+)\. Set it back to (?P<default>.+), or use a server "
        r"that takes it \(vLLM, llama\.cpp's server or a playground\)\."),
     "{say}不接受 `{name}`，但它现在是 {value}。请把它设回 {default}，"
     "或者换一个接受它的服务器（vLLM、llama.cpp 的服务器或一个游乐场）。"),
    (_P(r"(?P<say>.+\S) The conversation and the settings are unchanged\."), "{say}对话和设置都没有改变。"),
    (_P(r"The server(?P<at> at \S+)? refused the API key \(401\): set (?P<env>\w+) to a key it accepts\."),
     "服务器{at}拒绝了 API 密钥（401）：请把 {env} 设为它接受的密钥。"),
    (_P(r"The server(?P<at> at \S+)? is busy or over its rate limit \(429\): try again in a moment\."),
     "服务器{at}正忙或超出了它的速率限制（429）：请稍后再试。"),
    (_P(r"The server(?P<at> at \S+)? did not answer within (?P<s>\S+) s\."), "服务器{at}在 {s} 秒内没有回答。"),
    (_P(r"Cannot reach the server(?P<at> at \S+)?: (?P<why>.*)\. Is it running\?"), "连不上服务器{at}：{why}。它在运行吗？"),
    (_P(r"The server(?P<at> at \S+)? answered (?P<code>\d+): (?P<message>.*)"), "服务器{at}回答了 {code}：{message}"),
    # a named sampler order's description (`Order.describe`: its stages, then where it comes from)
    (_P(r"(?P<stages>penalties(?:, [\w -]+)+) \((?P<say>[^()]+)\)"), "{stages}（{say}）"),
    # Limits.refusal: a cap of this instance
    (_P(r"`max_new_tokens` must be at most (?P<cap>\d+) on this instance \(the max_new_tokens_cap\), but is (?P<v>\d+)\. "
        r"Set max_new_tokens to (?P<cap2>\d+) or less\."),
     "本实例上 `max_new_tokens` 最多为 {cap}（max_new_tokens_cap），但现在是 {v}。请把 max_new_tokens 设为 {cap2} 或更小。"),
    (_P(r"The prompt must be at most (?P<cap>\d+) tokens on this instance \(the max_prompt_tokens cap\), but is (?P<v>\d+) "
        r"\(system prompt and conversation\)\. Undo or Clear earlier turns, or shorten the message or the system prompt\."),
     "本实例上提示词最多 {cap} 个 token（max_prompt_tokens 上限），但现在是 {v}（系统提示词加对话）。请撤销或清空之前的轮次，"
     "或者缩短消息或系统提示词。"),
    # a generated token's plot from its record (plotdata.from_step)
    (_P(r"Generated token (?P<n>\d+): (?P<tok>.+) \(forced\)\. Bars are the model's own probabilities as recorded while "
        r"generating; the parameters used then, not the current ones\."),
     "生成的第 {n} 个 token：{tok}（由你强制）。柱是生成时记录下的模型自身的概率；用的是当时的参数，而不是当前的参数。"),
    (_P(r"Generated token (?P<n>\d+): (?P<tok>.+) \(p = (?P<p>\S+), the model's rank (?P<r>\d+)\)\. Bars are the model's own "
        r"probabilities as recorded while generating; the parameters used then, not the current ones\."),
     "生成的第 {n} 个 token：{tok}（p = {p}，模型中排第 {r}）。柱是生成时记录下的模型自身的概率；用的是当时的参数，"
     "而不是当前的参数。"),
    # the A/B compare (compare.py's lines, compare_panel.py's messages)
    (_P(r"they part at token (?P<n>\d+): A took (?P<a>.+?), B took (?P<b>.+?)\. (?P<say>(?:Both settings|[AB]'s .+? removed) .*)"),
     "它们在第 {n} 个 token 分开：A 取了 {a}，B 取了 {b}。{say}"),
    (_P(r"(?P<x>[AB])'s (?P<say_stage>.+?) removed (?P<y>[AB])'s token (?P<tok>.+?)(?:; (?P<say>B's .+? removed A's token .+))?\."),
     "{x} 的「{say_stage}」去掉了 {y} 的 token {tok}{say}。"),
    (_P(r"B's (?P<say_stage>.+?) removed A's token (?P<tok>.+)"),  # the second reason, after "; "
     "；B 的「{say_stage}」去掉了 A 的 token {tok}"),
    (_P(r"Both settings keep both tokens; the same random draw landed on different tokens because the probabilities differ "
        r"\((?P<a>.+): A (?P<pa>\S+), B (?P<pb>\S+); (?P<b>.+): A (?P<qa>\S+), B (?P<qb>\S+)\)\."),
     "两组设置都保留了这两个 token；同一个随机数落在了不同的 token 上，因为两边的概率不同（{a}：A {pa}，B {pb}；"
     "{b}：A {qa}，B {qb}）。"),
    (_P(r"so far the same, token for token \((?P<a>\d+) and (?P<b>\d+) tokens\)"),
     "目前为止逐个 token 都相同（分别 {a} 和 {b} 个 token）"),
    (_P(r"the replies agree until (?P<x>[AB]) ended \((?P<why>\w+)\) after (?P<n>\d+) tokens"),
     "两条回复一直相同，直到 {x} 在 {n} 个 token 后结束（{why}）"),
    (_P(r"settings (?P<x>[AB]): (?P<say>.+)"), "设置 {x}：{say}"),
    (_P(r"settings B line (?P<i>\d+) must be key=value, but is (?P<v>.+)\. Write e\.g\. temperature=1\.3\."),
     "设置 B 第 {i} 行必须是 key=value，但现在是 {v}。例如写 temperature=1.3。"),
    (_P(r"`max_new_tokens` must be at most (?P<cap>\d+) to compare \(every step's logits are kept\), but is (?P<v>\d+) in "
        r"(?P<x>[AB])\. Lower it in the controls or in B\."),
     "比较时 `max_new_tokens` 最多为 {cap}（每一步的 logits 都要保留），但 {x} 中是 {v}。请在控件或 B 中调低它。"),
    (_P(r"`seed` must be a whole number in \[0, 2\^32\), but is (?P<v>.+)\."), "`seed` 必须是 [0, 2^32) 之内的整数，但现在是 {v}。"),
    (_P(r"(?P<say>.*?) (?P<say2>`\w+` must .*)"), "{say}{say2}"),
    (_P(r"# Sampling playground\nChat with \*\*(?P<model>.+?)\*\* \((?P<dtype>[^,]+), (?P<device>[^)]+)\): the plot shows the "
        r"first token of the reply, and follows every control at once\."),
     "# 采样游乐场\n与 **{model}**（{dtype}，{device}）对话：图中显示回复的第一个 token，并随每个控件即时变化。"),
    (_P(r"Caps on this instance: replies up to (?P<cap>\d+) tokens \(default (?P<d>\d+)\), prompts up to (?P<p>\d+) tokens, "
        r"(?P<b>\d+) replies decoded together, (?P<q>\d+) may wait\."),
     "本实例的上限：回复最多 {cap} 个 token（默认 {d}），提示词最多 {p} 个 token，同时解码 {b} 条回复，最多 {q} 条排队。"),
    (_P(r"Caps on this instance: replies up to (?P<cap>\d+) tokens \(default (?P<d>\d+)\), prompts up to (?P<p>\d+) tokens, "
        r"(?P<b>\d+) replies decoded together, (?P<q>\d+) may wait · public mode\."),
     "本实例的上限：回复最多 {cap} 个 token（默认 {d}），提示词最多 {p} 个 token，同时解码 {b} 条回复，最多 {q} 条排队 · 公开模式。"),
    (_P(r"top_k=(?P<k>\d+) kept (?P<kept>\d+): (?P<tie>\d+) tokens tie at the cut \(the same score as the (?P<k2>\d+)th, as happens "
        r"in bfloat16\), and top-k keeps every tied token\."),
     "top_k={k} 保留了 {kept} 个：有 {tie} 个 token 在截断处并列（与第 {k2} 个分数相同，bfloat16 中会出现），"
     "top-k 保留所有并列的 token。"),
    (_P(r"Beam search \(num_beams = (?P<n>\d+)\): the (?P<n2>\d+) best continuations by total log-probability are kept; no token is "
        r"sampled and the sampling filters do not run\."),
     "束搜索（num_beams = {n}）：保留总对数概率最高的 {n2} 个续写；不采样任何 token，采样过滤器不运行。"),
]


def _help_zh(text: str) -> str | None:
    """A parameter's help text (controls.help_text: `Spec.help`, its range, how to write it) in Chinese."""
    for name, s in SPECS.items():
        if text.startswith(s.help) and name in HELP_ZH:
            rest = text[len(s.help):].lstrip(".")
            zh = HELP_ZH[name] + "。"
            m = re.match(r" Range (\S+, \S+)\.", rest)
            if m:
                zh, rest = zh + f"范围 {m.group(1)}。", rest[m.end():]
            if rest and rest.strip() not in ZH:
                return None
            return zh + (ZH[rest.strip()] if rest else "")
    return None


def zh(text: str) -> str | None:
    """`text` in Chinese: its entry in `ZH`, a parameter's help, or a `PATTERNS` match; None when none fits."""
    if text in ZH:
        return ZH[text]
    for prefix in _PREFIXES:  # "Preset not saved: " + the core's message
        if text.startswith(prefix) and len(text) > len(prefix):
            rest = zh(text[len(prefix):])
            return None if rest is None else ZH[prefix] + rest
    for pattern, to in PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            return to.format(**{k: _value(k, v) for k, v in m.groupdict().items()})
    return _help_zh(text)


def _value(group: str, value: str | None) -> str:
    """A matched group as the Chinese template takes it (see `PATTERNS`)."""
    if group.startswith("say"):
        return say(value or "", "zh")
    if group == "stages":  # a list of stage labels
        return "、".join(say(label, "zh") for label in value.split(", "))
    if group == "at":
        return f" {value.removeprefix(' at ')} " if value else ""
    return value or ""


def t(text: str) -> gr.i18n.I18nData:
    """Static text as a translation key for the page; its Chinese must exist (a missing one fails the build)."""
    chinese = zh(text)
    if chinese is None:
        raise KeyError(f"no Chinese for {text!r}: add it to i18n_zh.ZH")
    EN_FRONT[text], ZH_FRONT[text] = text, chinese  # (the frontend formats a message only when given values)
    return I18N(text)


def lang(request=None) -> str:
    """The language of the visitor of the event being handled: "zh" or "en" (no request: "en")."""
    r = request if request is not None else LocalContext.request.get(None)
    headers = getattr(r, "headers", None)
    if headers is None:
        return "en"
    asked = parse_qs(urlparse(headers.get("referer", "")).query).get("lang", [""])[0]
    cookies = getattr(r, "cookies", None) or {}
    choice = asked or cookies.get(COOKIE) or headers.get("accept-language", "")
    return "zh" if choice.strip().lower().startswith("zh") else "en"


def tr(template: str, lang_: str | None = None, **values) -> str:
    """A template (`ZH`'s key) formatted with `values`, in the visitor's language (English when untranslated)."""
    chosen = template
    if (lang_ or lang()) == "zh":
        chosen = ZH.get(template, template)
    return chosen.format(**values) if values else chosen


def say(message: str, lang_: str | None = None) -> str:
    """A message made in English (the core's, a composed line) in the visitor's language, where `ZH` or
    `PATTERNS` knows it; otherwise unchanged."""
    if not message or (lang_ or lang()) != "zh":
        return message
    return zh(message) or message


def help_line(name: str) -> str:
    """A parameter's one-line help (`Spec.help`) in the visitor's language."""
    return HELP_ZH[name] if lang() == "zh" and name in HELP_ZH else SPECS[name].help


SWITCH = """<div id="lang-switch"><a href="?lang=en" data-lang="en" lang="en">English</a> · <a href="?lang=zh" data-lang="zh"
lang="zh">中文</a></div>"""
# When the switch renders: the address's ?lang= wins, then the cookie; the frontend's locale follows (as gradio's own
# language picker does it: changeLocale, from gradio's core module), and the links set the cookie and reload.
LOAD_JS = """(async () => {
  const cookie = (document.cookie.match(/(?:^|; )__COOKIE__=([^;]*)/) || [])[1];
  const asked = new URLSearchParams(location.search).get('lang');
  const want = asked || cookie;
  if (asked) document.cookie = '__COOKIE__=' + asked + '; path=/; max-age=31536000; samesite=lax';
  for (const a of element.querySelectorAll('#lang-switch a')) {
    a.onclick = (e) => {
      e.preventDefault();
      document.cookie = '__COOKIE__=' + a.dataset.lang + '; path=/; max-age=31536000; samesite=lax';
      const u = new URL(location.href);
      u.searchParams.delete('lang');
      location.href = u.href;
    };
  }
  const now = (document.documentElement.lang || navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  if (!want || want === now) return;
  const core = performance.getEntriesByType('resource').map(e => e.name).find(n => /\\/assets\\/core-[^/]*\\.js$/.test(n));
  if (core) (await import(core)).changeLocale(want === 'zh' ? 'zh-CN' : 'en');
})();""".replace("__COOKIE__", COOKIE)


CSS = """
#lang-switch-box { position: absolute; top: 6px; right: 12px; z-index: 10; width: auto !important; }
#lang-switch a { text-decoration: none; padding: 0 2px; }
@media (max-width: 640px) { #lang-switch-box { position: static; margin-left: auto; } }  /* a phone: its own line, not on the title */
html[lang^="zh"] #lang-switch a[data-lang="zh"], html:not([lang^="zh"]) #lang-switch a[data-lang="en"] { font-weight: bold; }
"""


def switch() -> gr.HTML:
    """The language switch (English · 中文) in the page's top right corner; its links work once `LOAD_JS` ran."""
    return gr.HTML(SWITCH, elem_id="lang-switch-box", padding=False, js_on_load=LOAD_JS)
