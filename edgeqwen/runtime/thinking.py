"""A bound on Qwen3's thinking: after ``budget`` tokens of it, the model is made to close it.

Qwen3 may think for thousands of tokens, minutes on a small CPU, before its answer starts. Its
authors bound the thinking by halting it and writing the end of it for the model, with a sentence
that has it answer from what it has thought so far (the Qwen3 Technical Report, arXiv 2505.09388,
"Thinking Budget": an ability that came with thinking-mode fusion, not trained for itself;
llama.cpp's server writes the same sentence at its ``--reasoning-budget``).

:class:`ThinkingBudget` does that as a logits processor, so it runs in our own loop wherever
processors run (llama.cpp, ONNX): from the budget on, each next token is the
next of the closing text's, until ``</think>`` is written. The state is read from the token ids
alone, so the processor holds for a resampled answer and with or without forced tokens.
"""

from __future__ import annotations

import numpy as np

from ..tokenizer import Tokenizer

__all__ = ["CLOSING", "ThinkingBudget"]

# what the model is made to write at the budget: Qwen's own words for it, then the end of thinking
CLOSING = (
    "\n\nConsidering the limited time by the user, I have to give the solution based on the thinking "
    "directly now.\n</think>\n\n"
)


class ThinkingBudget:
    """``(token_ids, logits) -> logits``: past ``prompt_len``, once ``budget`` tokens are written
    without ``</think>``, only the next token of :data:`CLOSING` may come."""

    def __init__(self, tokenizer: Tokenizer, prompt_len: int, budget: int) -> None:
        self.end = tokenizer.token_id("</think>")
        if self.end is None:
            raise ValueError("this tokenizer has no </think> token: its model does not think")
        self.closing = np.asarray(tokenizer.encode(CLOSING), dtype=np.int64)
        self.prompt_len, self.budget = prompt_len, budget

    def __call__(self, token_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        written = np.asarray(token_ids[self.prompt_len :])
        at = len(written) - self.budget  # how far into the closing text the answer is
        if at < 0 or at >= len(self.closing) or (written == self.end).any():
            return logits
        forced = np.full_like(logits, -np.inf)
        forced[..., self.closing[at]] = 0.0
        return forced
