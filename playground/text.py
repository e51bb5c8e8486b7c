"""Token and reply text: readable token labels, and streaming text that respects stop strings.

Streaming shows only text that is final: never half of a multi-byte character, never the start of
what may become a stop string. Stop strings are cut from the returned text (OpenAI's behaviour).
"""

from __future__ import annotations

from functools import lru_cache


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: the printable character that stands for each byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


_BYTES = _byte_decoder()


def token_text(tokenizer, token_id: int) -> str:
    """The text of one token; a piece of a multi-byte character shows as its bytes, e.g. '<0xE2><0x80>'."""
    return _token_text(tokenizer, token_id)


@lru_cache(maxsize=200_000)
def _token_text(tokenizer, token_id: int) -> str:
    text = tokenizer.decode([token_id])
    if "\ufffd" not in text:
        return text
    piece = tokenizer.convert_ids_to_tokens(token_id) or ""
    if piece and all(ch in _BYTES for ch in piece):
        raw = bytes(_BYTES[ch] for ch in piece)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "".join(f"<0x{b:02X}>" for b in raw)
    return text


def readable(text: str) -> str:
    """Whitespace made visible for a plot axis or a table: ' a\\n' -> '␣a↵'. Empty -> '∅'."""
    if text == "":
        return "∅"
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥").replace("\r", "␍")


class StopScanner:
    """Feeds generated token ids; tells the text safe to show and whether a stop string appeared."""

    def __init__(self, tokenizer, stops: tuple[str, ...] = ()):
        self.tokenizer, self.stops = tokenizer, tuple(stops)
        self.ids: list[int] = []
        self.stopped = False
        self.text = ""  # safe text so far (the cut text once stopped)

    def feed(self, token_id: int) -> str:
        self.ids.append(token_id)
        full = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cut = min((i for i in (full.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped, self.text = True, full[:cut]
            return self.text
        safe = full.rstrip("\ufffd")  # a character whose bytes have not all arrived
        hold = max((k for s in self.stops for k in range(1, len(s)) if safe.endswith(s[:k])), default=0)
        self.text = safe[: len(safe) - hold]
        return self.text

    def final_text(self) -> str:
        if self.stopped:
            return self.text
        return self.tokenizer.decode(self.ids, skip_special_tokens=True)
