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
# translated (`say`).
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
            return to.format(**{k: say(v or "", "zh") if k.startswith("say") else v for k, v in m.groupdict().items()})
    return _help_zh(text)


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
