"""Token and reply text: readable token labels, streaming text that respects stop strings, and how
a value is quoted in a message.

Streaming shows only text that is final: never half of a multi-byte character, never the start of
what may become a stop string. Stop strings are cut from the returned text (OpenAI's behaviour).
"""

from __future__ import annotations

import reprlib
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


class _Brief(reprlib.Repr):
    def __init__(self):
        super().__init__()
        self.maxstring, self.maxother, self.maxlong, self.maxlevel = 60, 60, 40, 3
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 5

    def repr_int(self, x, level):  # repr() refuses ints over 4300 digits
        return super().repr_int(x, level) if x.bit_length() < 4000 else f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"


_brief = _Brief()


def brief(value) -> str:
    """`repr(value)` for a message, cut to about 60 characters: a bad value never floods the page."""
    out = _brief.repr(value)
    return out + f" ({len(value)} characters)" if isinstance(value, str) and len(value) > 60 else out


def surrogate_at(text: str) -> int:
    """Where `text` holds a lone surrogate (half of a UTF-16 pair: not text, which no tokenizer or page
    takes; argv holds one per byte that is not UTF-8), else -1."""
    try:
        text.encode("utf-8")
        return -1
    except UnicodeEncodeError as e:
        return e.start


class StopScanner:
    """Feeds generated token ids; tells the text safe to show and whether a stop string appeared.

    Linear in the reply: each token decodes only a short window (the tokens not yet final plus the
    previous chunk, as context for tokenizers that drop a leading space), and each new character
    advances one Knuth-Morris-Pratt state per stop string, so a token costs at most
    `MAX_PENDING` tokens of decoding and `len(stops)` state moves per new character (amortised), never
    the whole reply or every prefix of every stop string. A window is final once its text does not end
    in U+FFFD (half a multi-byte character); after `MAX_PENDING` tokens that never complete a character
    (invalid bytes), it is taken as it is. `work` counts the token ids decoded and the characters scanned.
    """

    MAX_PENDING = 8

    def __init__(self, tokenizer, stops: tuple[str, ...] = ()):
        self.tokenizer, self.stops = tokenizer, tuple(stops)
        self.ids: list[int] = []
        self.stopped = False
        self.text = ""  # safe text so far (the cut text once stopped)
        self.work = {"decoded": 0, "scanned": 0}
        self._final = ""  # the text of ids[:_read]: final, scanned for stop strings
        self._prefix, self._read = 0, 0  # ids[_prefix:_read]: the last final chunk, decoded again as context
        self._fail = [_failure(s) for s in self.stops]
        self._state = [0] * len(self.stops)  # per stop string: how many of its characters end the final text

    def feed(self, token_id: int) -> str:
        self.ids.append(token_id)
        if not self.stopped:
            tail = self._pending()
            if not tail.endswith("\ufffd") or len(self.ids) - self._read >= self.MAX_PENDING:
                self._prefix, self._read = self._read, len(self.ids)
                self._scan(tail)
        return self.text

    def final_text(self) -> str:
        """The whole reply: cut at the first stop string, else every token decoded (nothing held back).
        Changes nothing: a Decoder stopped by the user may go on stepping."""
        if self.stopped or self._read == len(self.ids):
            return self.text if self.stopped else self._final
        text = self._final + self._pending()
        edge = max(0, len(self._final) - max(map(len, self.stops), default=0))  # a new match ends in the tail
        cuts = [i for i in (text.find(s, edge) for s in self.stops) if i >= 0]
        return text[:min(cuts)] if cuts else text

    def _pending(self) -> str:
        """The text the tokens after `_read` add (it may end in half a character), decoded after the
        last final chunk: a window of a few tokens, never the whole reply."""
        window = self.ids[self._prefix:]
        self.work["decoded"] += len(window) + self._read - self._prefix
        before = self.tokenizer.decode(window[: self._read - self._prefix], skip_special_tokens=True)
        return self.tokenizer.decode(window, skip_special_tokens=True)[len(before):]

    # --- the stop strings ---------------------------------------------------------------------------
    def _scan(self, chunk: str) -> None:
        """Append final text; cut at the earliest stop string that ends in it, else hold back the
        longest tail that may still become one."""
        start = len(self._final)
        self._final += chunk
        self.work["scanned"] += len(chunk)
        cut = -1
        for n, (s, fail) in enumerate(zip(self.stops, self._fail)):
            k = self._state[n]
            for i, ch in enumerate(chunk):
                while k and s[k] != ch:
                    k = fail[k - 1]
                if s[k] == ch:
                    k += 1
                if k == len(s):
                    at = start + i + 1 - k
                    cut = at if cut < 0 else min(cut, at)
                    break
            self._state[n] = k
        if cut >= 0:
            self.stopped, self.text = True, self._final[:cut]
            return
        hold = max(self._state, default=0)
        self.text = self._final[: len(self._final) - hold]


def _failure(s: str) -> list[int]:
    """Knuth-Morris-Pratt: for each prefix s[:i+1], the length of its longest proper prefix that is also its suffix."""
    fail, k = [0] * len(s), 0
    for i in range(1, len(s)):
        while k and s[i] != s[k]:
            k = fail[k - 1]
        if s[i] == s[k]:
            k += 1
        fail[i] = k
    return fail
