"""Stop strings: a completion ends at the first occurrence of any of them.

Token boundaries. A stop string may end inside a token (the token "```\\n\\nThe" closes a fence and
opens prose). A completion keeps its sampled tokens up to and including the token at which a stop
string first appears in the decoded text, and its text is that decoding cut before the stop
string. The token sequence is not re-tokenised, for two reasons:
- it is the sequence the sampler drew, so log π_θ and log π_base are of what π_θ proposed, and the
  importance weights π_base/π_θ of Ẑ and of alpha-DPG are ratios of one sequence's probabilities;
- stopping is a stopping time: whether to stop after token t depends on tokens ≤ t only, so no kept
  sequence is a proper prefix of another, and the kept sequences (with those ended by EOS or by the
  token budget) partition the sample space: their probabilities sum to one, and p ∝ π_base·v over
  them is a distribution (tests/learners/test_stops.py enumerates one).
A re-tokenised text is a sequence the sampler may never draw, and a proper prefix of another
kept sequence can map to the same text, so its probability is not that of the sample.
The proof text is a function of the kept tokens, so v is too.

"First appears" is with the whole completion decoded (`decode(ids[:k])`), never a window of it, so
the cut does not depend on how a tokenizer decodes a fragment. The stopping criterion that ends
generation early looks at a window first, for speed, and confirms with the whole decoding: it
stops a row only where the cut would be, and a miss only costs generated tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from transformers import StoppingCriteria

Decode = Callable[[Sequence[int]], str]


def cut_at_stop(text: str, stops: Sequence[str]) -> str | None:
    """`text` before the first occurrence of any stop string; None when none occurs."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[: min(found)] if found else None


def end_completion(ids: Sequence[int], decode: Decode, stops: Sequence[str]) -> tuple[int, str]:
    """How many of a completion's tokens (already ended at EOS or the budget) are kept, and its
    text, stripped: cut before the first stop string where one appears."""
    kept = stopped_length(ids, decode, stops) if stops else None
    if kept is None:
        return len(ids), decode(ids).strip()
    return kept, (cut_at_stop(decode(ids[:kept]), stops) or "").strip()


def stopped_length(ids: Sequence[int], decode: Decode, stops: Sequence[str]) -> int | None:
    """The fewest leading tokens of `ids` whose decoding holds a stop string; None if none does.

    Binary search: a longer prefix decodes to an extension of a shorter one (up to a split UTF-8
    character at its end, which no stop string contains), so holding a stop string is monotone.
    """
    if cut_at_stop(decode(ids), stops) is None:
        return None
    low, high = 1, len(ids)  # decode(ids[:high]) holds a stop string
    while low < high:
        middle = (low + high) // 2
        if cut_at_stop(decode(ids[:middle]), stops) is None:
            low = middle + 1
        else:
            high = middle
    return high


class StopOnStrings(StoppingCriteria):
    """Ends a row of `generate` once its completion's decoding holds a stop string.

    Not transformers' `stop_strings`: that matches stop strings against the vocabulary's token
    strings, not `decode`, so it could end a row where `stopped_length` finds no stop string, and
    the padding after it would be scored as sampled tokens.
    """

    def __init__(self, decode: Decode, stops: Sequence[str], prompt_length: int) -> None:
        self.decode = decode
        self.stops = list(stops)
        self.prompt_length = prompt_length
        # every token carries at least one byte of text, so a stop string lies within this many
        self.window = max(len(s.encode()) for s in self.stops) + 2

    def __call__(
        self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: object
    ) -> torch.Tensor:
        completions = input_ids[:, self.prompt_length :].tolist()
        done = [
            cut_at_stop(self.decode(ids[-self.window :]), self.stops) is not None
            and cut_at_stop(self.decode(ids), self.stops) is not None
            for ids in completions
        ]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
