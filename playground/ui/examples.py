"""The first screen's example prompts: one click puts one in the message box and draws its plot.

Each example makes one idea visible in the next-token plot (what it shows is measured on the bundled
SmolLM2-135M-Instruct, fp32: the first token of its reply, no system prompt). The page opens with
`LANDING` in the box and its plot drawn (`plot.preview`, the chat's context refresh run on the
conversation plus the unsent message, in the model's concurrency group). With an empty chat and no
system prompt an example's logits are kept once per engine (`plot.PINNED`): a room of page loads costs
one forward pass, however busy the engine's small cache of recent contexts is.
"""

from __future__ import annotations

import gradio as gr

from .i18n import t

# prompt -> (its button's caption, what its plot shows: one short line, in the plot's note)
EXAMPLES = {
    "Tell me a joke.": ("A joke", "a few likely openings (“What”, “A”, “Why”): move temperature and watch them trade places"),
    "Complete the sentence: The capital of France is": ("The capital of France is…",
                                                        "peaked: one token carries more than half the probability"),
    "Give me a random word.": ("A random word", "flat: hundreds of tokens share the probability; top_p and min_p cut "
                                                "the long tail"),
    "Say the word 'banana'.": ("Say 'banana'", "tokens are pieces of words, and case matters: “Ban” and “ban” are "
                                               "different tokens"),
}
LANDING = "Tell me a joke."
PLACEHOLDER = "Type a message — Enter sends, Shift+Enter for a new line"


def about(message: str | None) -> str:
    """What an example's plot shows ("" for any other message)."""
    return EXAMPLES.get((message or "").strip(), ("", ""))[1]


def buttons() -> list[tuple[gr.Button, str]]:
    """One small button per example (in the caller's Blocks), with the prompt it puts in the box."""
    with gr.Row(elem_id="examples"):
        gr.Markdown(t("Try:"), elem_id="examples-label")
        made = [(gr.Button(t(caption), size="sm", min_width=0), prompt) for prompt, (caption, _) in EXAMPLES.items()]
    return made
