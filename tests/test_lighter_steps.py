"""A step's own work made lighter (issue 14's throughput) gives the very same numbers and records: the
min-new-tokens stage with its mask built once (`sampling.MinNewTokens`), the chain table's top tokens taken
from the candidates' sort (`Trace.top`), the finite masks and removed mass of `Trace.stage_report`, and the
candidates' values read through one index tensor. Each is checked against the plain computation it replaces."""

from __future__ import annotations

import math

import pytest
import torch
from transformers.generation.logits_process import MinNewTokensLengthLogitsProcessor

from playground import sampling, stage_rows
from playground.params import build


@pytest.mark.parametrize("eos", [[0], [2, 5, 7], 3])
def test_min_new_tokens_equals_transformers(eos):
    ids = torch.tensor([[9, 8, 7, 6, 5]])
    for prompt_len, minimum in [(3, 5), (3, 2), (0, 5), (5, 0)]:
        ours, theirs = sampling.MinNewTokens(prompt_len, minimum, eos), MinNewTokensLengthLogitsProcessor(prompt_len, minimum, eos)
        for vocab in (11, 49152):
            scores = torch.randn(1, vocab)
            before = scores.clone()
            got, want = ours(ids, scores), theirs(ids, scores)
            assert torch.equal(got, want) and torch.equal(scores, before)
            assert bool(torch.isinf(got).any()) == (ids.shape[1] - prompt_len < minimum)


def reference_top(p: torch.Tensor, label, n: int) -> list[tuple[str, float]]:
    """The chain table's top tokens as computed before: a topk of n over the vocabulary."""
    v, i = torch.topk(p, min(n, p.shape[-1]))
    return [(stage_rows.readable(label(int(t))), float(x)) for t, x in zip(i, v) if x > 0]


def reference_report(trace: sampling.Trace) -> list[dict]:
    """`Trace.stage_report` as computed before (isfinite, the mass of every link summed even when empty)."""
    out = []
    for s, (name, label) in enumerate(trace.links()):
        before, after = torch.isfinite(trace.chain_scores[s]), torch.isfinite(trace.chain_scores[s + 1])
        gone = before & ~after
        out.append(dict(stage=name, label=label, considered=int(before.sum()), kept=int(after.sum()),
                        removed=int(gone.sum()), removed_mass=float(trace.probs_at(s)[gone].sum())))
    return out


PARAMS = [dict(min_new_tokens=4), dict(temperature=0.7, top_k=40, top_p=0.9, min_new_tokens=2),
          dict(do_sample=False, repetition_penalty=1.3), dict(min_p=0.1, typical_p=0.9, presence_penalty=0.5),
          dict(xtc_probability=1.0, xtc_threshold=0.01, top_k=8), dict(epsilon_cutoff=3e-4, frequency_penalty=0.4)]


@pytest.mark.parametrize("kw", PARAMS)
def test_chain_table_and_candidates_equal_the_plain_computation(kw):
    torch.manual_seed(0)
    label = str
    for trial in range(5):
        logits = torch.randn(1, 2000) * 3
        if trial == 1:  # exact ties among the top tokens: the order of ties must stay topk's own
            logits[0, :12] = logits.max() + 1
        if trial == 2:  # ties at the edge of the top 5
            logits[0, [3, 40, 41, 900]] = logits.max() + 0.5
        stages = sampling.build_stages(build(**kw, max_new_tokens=50), 2, [0], bias_ids=None)
        ids = torch.tensor([[4, 9, 4, 9, 11]])
        fresh = sampling.run(stages, ids, logits)
        want_table = [reference_top(fresh.probs_at(i)[0], label, 5) for i in range(len(fresh.chain_scores))]
        want_report = reference_report(fresh)
        n_pre = sum(1 for s in stages if not s.warper)
        pre, raw = fresh.probs_at(n_pre)[0], fresh.probs_at(0)[0]
        want_top = torch.topk(pre, 100).indices.tolist()
        if n_pre:
            want_top += [i for i in torch.topk(raw, 100).indices.tolist() if i not in set(want_top) and pre[i] == 0]
        trace = sampling.run(stages, ids, logits)
        cands = trace.candidates(100, also=1999)  # as a step records them: the candidates first, then the table
        assert [c.id for c in cands] == want_top + ([1999] if 1999 not in want_top else [])
        assert [c.raw for c in cands] == [float(raw[c.id]) for c in cands]
        assert [c.pre for c in cands] == [float(pre[c.id]) for c in cands]
        assert [c.final for c in cands] == [float(trace.picked_probs[0, c.id]) for c in cands]
        rows = stage_rows.chain_table(trace, label)
        assert [r.top_before for r in rows] + ([rows[-1].top_after] if rows else []) == want_table[:len(rows) + 1]
        assert trace.stage_report() == want_report
        assert all(math.isfinite(r["removed_mass"]) for r in want_report)
