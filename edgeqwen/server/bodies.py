"""The OpenAI chat-completions API's answers: a completion, its stream's chunks, usage, log
probabilities, tool calls, and errors in OpenAI's shape. Pure functions on our types.

``logprobs`` are the model's own (before sampling settings, penalties and grammar), for every
token it wrote, and null where the safety policy changed the answer; a stream sends them with its
last chunk.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from ..types import Reply, TokenLogprob

__all__ = [
    "chunk_body",
    "completion_body",
    "error_body",
    "finish_reason",
    "logprobs_body",
    "new_id",
    "tool_calls_body",
    "usage_body",
]


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def finish_reason(reply: Reply) -> str:
    if reply.finish_reason == "length":  # cut, even where a call was written: a client must not run it as whole
        return "length"
    if reply.tool_calls:
        return "tool_calls"
    if reply.finish_reason in ("refused", "filtered"):
        return "content_filter"
    return "stop"


def usage_body(reply: Reply, *more: Reply) -> dict[str, Any]:
    """The usage of an answer, and of ``more`` choices to the same prompt: its tokens counted once,
    the answers' all; where tokens were guessed (a prediction, prompt lookup), how many the model
    took and how many it did not, in OpenAI's Predicted Outputs fields."""
    m = reply.metrics
    replies = (reply, *more)
    generated = sum(r.metrics.generated_tokens for r in replies)
    out: dict[str, Any] = {
        "prompt_tokens": m.prompt_tokens,
        "completion_tokens": generated,
        "total_tokens": m.prompt_tokens + generated,
        "prompt_tokens_details": {"cached_tokens": m.cached_tokens},
    }
    drafted = sum(r.metrics.drafted_tokens for r in replies)
    if drafted:
        accepted = sum(r.metrics.accepted_tokens for r in replies)
        out["completion_tokens_details"] = {
            "accepted_prediction_tokens": accepted,
            "rejected_prediction_tokens": drafted - accepted,
        }
    return out


def tool_calls_body(reply: Reply, streaming: bool = False, parallel: bool = True) -> list[dict[str, Any]]:
    """The reply's calls in OpenAI's shape; with ``parallel`` False (the request's
    ``parallel_tool_calls``), the first only, as that option promises at most one."""
    out = []
    for i, call in enumerate(reply.tool_calls if parallel else reply.tool_calls[:1]):
        item: dict[str, Any] = {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
        }
        out.append({"index": i, **item} if streaming else item)
    return out


def _logprob(item: TokenLogprob) -> dict[str, Any]:
    return {"token": item.text, "logprob": item.logprob, "bytes": list(item.bytes)}


def logprobs_body(reply: Reply) -> dict[str, Any] | None:
    """OpenAI's ``choices[].logprobs``: each token with its alternatives (null when none were kept)."""
    if reply.logprobs is None:
        return None
    content = [{**_logprob(t), "top_logprobs": [_logprob(a) for a in t.top]} for t in reply.logprobs]
    return {"content": content, "refusal": None}


def completion_body(
    rid: str, model: str, replies: Sequence[Reply], parallel: bool = True, fingerprint: str = ""
) -> dict[str, Any]:
    """The whole ``chat.completion``: a choice per reply (``n``), in order."""
    choices = []
    for index, reply in enumerate(replies):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text if reply.text or not reply.tool_calls else None,
        }
        if reply.tool_calls:
            message["tool_calls"] = tool_calls_body(reply, parallel=parallel)
        if reply.thinking:
            message["reasoning_content"] = reply.thinking
        choices.append(
            {
                "index": index,
                "message": message,
                "finish_reason": finish_reason(reply),
                "logprobs": logprobs_body(reply),
            }
        )
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": choices,
        "usage": usage_body(*replies),
    }


def chunk_body(
    rid: str,
    model: str,
    delta: dict[str, Any] | None,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    logprobs: dict[str, Any] | None = None,
    index: int = 0,
    fingerprint: str = "",
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` of choice ``index``; ``delta=None`` gives the usage-only chunk
    (no choices)."""
    body: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    body["system_fingerprint"] = fingerprint
    choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": logprobs}
    body["choices"] = [] if delta is None else [choice]
    if usage is not None:
        body["usage"] = usage
    return body


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
