"""``Assistant``: a thin stateful wrapper over a backend — history, context budget, prefix reuse.

History is kept as :class:`~edgeqwen.types.Message` s. An assistant turn keeps the token ids it
was generated as, so the next prompt starts with exactly the ids already in the KV cache and
only the new turn is prefilled. When the conversation outgrows the context window, the oldest
whole turns are dropped (the system prompt stays) and the reply says how many.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .backends import Backend, Request
from .chat import normalize_tools
from .decoding import answer_format, answer_prefix, default_config, processors
from .errors import GrammarError, InvalidRequestError
from .generation_config import GenerationConfig
from .hub import build_backend, check_load_options
from .message_dicts import MessageLike
from .prompt import Prompter
from .reply import ReplyStream, Retry, resample_config, value_of
from .runtime.formats import ResponseFormat
from .runtime.loop import check_logit_bias
from .toolspec import Tool, tool_specs
from .turns import Turn, continued_text, given, history_of, new_messages, raw_prompt
from .types import Chunk, Message, Metrics, Reply, check_text

if TYPE_CHECKING:
    from .safety import InputDecision
    from .tokenizer import Tokenizer

__all__ = ["Assistant", "ReplyStream", "json_format", "new_messages"]


def json_format(schema: Any, lenient: bool = False) -> ResponseFormat:
    """What ``json(text, schema)`` decodes with: any JSON object for None, else the schema's format."""
    return ResponseFormat("json_object") if schema is None else ResponseFormat.of(schema, lenient=lenient)


class Assistant:
    """Chat with a local model.

    >>> bot = Assistant(system="Answer in one sentence.")    # doctest: +SKIP
    >>> bot.chat("What is the capital of France?").text       # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | None = None,
        system: str | None = None,
        *,
        backend: str | Backend = "auto",
        context_length: int | None = None,
        threads: int | None = None,
        device: str | None = None,
        kv_cache_type: str | None = None,
        config: GenerationConfig | None = None,
        enable_thinking: bool = False,
        tools: Sequence[Tool] | None = None,
        policy: Any = "default",
        on_safety_event: Callable[[Any], None] | None = None,
        audit_log: str | None = None,
        announce: Callable[[str], None] | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        **sampling: Any,
    ) -> None:
        from .safety import Guard

        self.guard = Guard(policy, on_safety_event, audit_log)  # a bad policy fails before any model loads
        if system is not None:
            check_text(system, "The system prompt")
        check_load_options(context_length, threads, kv_cache_type)  # before any model loads (the guard's too)
        if config is not None and not isinstance(config, GenerationConfig):
            raise InvalidRequestError(
                f"config must be an edgeqwen.GenerationConfig, got {type(config).__name__}; or pass the "
                "settings as keywords: Assistant(temperature=0.2, max_tokens=256).",
                "config",
            )
        if announce is not None and not callable(announce):
            raise InvalidRequestError(f"announce must be a function of one str, got {type(announce).__name__}.")
        (config or GenerationConfig()).with_(**sampling)  # bad settings fail before any model loads
        options = dict(
            context_length=context_length,
            threads=threads,
            device=device,
            base_url=base_url,
            api_key=api_key,
            kv_cache_type=kv_cache_type,
        )
        self.backend = backend if isinstance(backend, Backend) else build_backend(model, backend, announce, options)
        if self.guard.policy.guard is not None:  # the guard model runs on CPU beside the answering model
            guard = build_backend(self.guard.policy.guard, "auto", announce, {"threads": threads}, role=None)
            self.guard.attach(guard)
        self._check_thinking(enable_thinking)
        self.enable_thinking = enable_thinking
        self.config = default_config(self.backend, config, enable_thinking, sampling)
        self.system = system
        self.tools = normalize_tools(tool_specs(tools))
        self._history: list[Message] = []
        self._cancel = threading.Event()

    # -- state -------------------------------------------------------------------------------
    @property
    def history(self) -> tuple[Message, ...]:
        return tuple(self._history)

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer, to count what fits ``context_length`` or to build token-id prompts
        for :meth:`complete`: ``encode(text)`` (control tokens typed stay text), ``encode_controls``,
        ``decode(ids)``. A remote backend's is a byte-level stand-in: its counts are upper bounds."""
        return self.backend.tokenizer

    @property
    def context_length(self) -> int:
        """Tokens the model's window holds: prompt and answer together."""
        return self.backend.context_length

    def _check_thinking(self, enable_thinking: bool | None) -> None:
        if enable_thinking is not None and not isinstance(enable_thinking, bool):  # "no" was True
            raise InvalidRequestError(
                f"enable_thinking must be True or False, got {enable_thinking!r:.40}.", "enable_thinking"
            )
        if enable_thinking and not self.backend.template.supports_thinking:
            raise InvalidRequestError(
                f"enable_thinking needs a Qwen3 model; this is a {self.backend.template.family} model.",
                "enable_thinking",
            )

    def reset(self, system: str | None = None, history: Sequence[MessageLike] = ()) -> None:
        """Forget the conversation (and optionally set a new system prompt), or put one in its
        place: ``history``, user, assistant and tool messages (as :attr:`history` holds them, or as
        OpenAI's dicts), is what the next answer follows on from (a saved chat, restored)."""
        system = self.system if system is None else check_text(system, "The system prompt")
        self.system, self._history = system, history_of(history)  # both checked before either changes

    def cancel(self) -> None:
        """Stop the answer being generated (from another thread)."""
        self._cancel.set()

    def close(self) -> None:
        self.backend.close()
        if self.guard.model is not None:
            self.guard.model.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- prompts -----------------------------------------------------------------------------
    @property
    def policy(self):
        return self.guard.policy

    @property
    def _prompt(self) -> Prompter:
        return Prompter(self.backend, self.guard)  # made per use: a guard swapped on the assistant is read

    # -- chat --------------------------------------------------------------------------------
    def stream(
        self,
        text: str | Sequence[MessageLike],
        *,
        enable_thinking: bool | None = None,
        response_format: Any = None,
        tool_choice: str | dict[str, Any] = "auto",
        **overrides: Any,
    ) -> ReplyStream:
        """Start an answer to ``text`` (or to a list of new messages, e.g. tool results).
        ``response_format`` constrains the answer (see :class:`ResponseFormat`); the reply's
        ``parsed`` then holds the value. ``tool_choice``: "auto" (the model decides; a call it
        opens must name one of the tools, with arguments valid for it), "required" (it must call
        one of the tools), ``{"name": NAME}`` (it must call that tool), or "none" (it cannot call
        one)."""
        new = new_messages(text)
        turn = Turn(tuple(new), tuple(self._history), self.system, tuple(self.tools), remember=True)
        return self._start(turn, enable_thinking, response_format, tool_choice, overrides)

    def resume(self, *, enable_thinking: bool | None = None, **overrides: Any) -> ReplyStream:
        """Go on with the last answer in the history from where it ended (cut at ``max_tokens``, or
        stopped): the model continues its own text, the reply holds what it adds, and the history's
        last answer grows by it. The request it answers was screened when it was asked; the output
        filters read what is added."""
        last = self._history[-1] if self._history else None
        if last is None or last.role != "assistant" or last.tool_calls:
            why = "it ended in tool calls" if last is not None and last.tool_calls else "there is no answer yet"
            raise InvalidRequestError(f"Nothing to resume: {why}. Ask something with chat() or stream().")
        if last.thinking and not (self.enable_thinking if enable_thinking is None else enable_thinking):
            raise InvalidRequestError(
                "The answer to resume was thinking: resume it with thinking on (enable_thinking=True), as asked.",
                "enable_thinking",
            )
        history = tuple(self._history[:-1])
        turn = Turn((), history, self.system, tuple(self.tools), remember=True, continued=last, own=True)
        return self._start(turn, enable_thinking, None, "auto", overrides)

    def answer(
        self,
        messages: Sequence[MessageLike],
        *,
        tools: Sequence[Tool] | None = None,
        enable_thinking: bool | None = None,
        response_format: Any = None,
        tool_choice: str | dict[str, Any] = "auto",
        truncate: bool = True,
        **overrides: Any,
    ) -> ReplyStream:
        """Answer a whole conversation that the caller keeps (the OpenAI API's way). Leading
        system messages (joined by a blank line) replace this assistant's system prompt and
        ``tools`` its tools, for this answer only; a system message later in the conversation is a
        system turn where it is; the assistant's own history is neither read nor changed. The
        messages after the last assistant turn are the new ones (the safety policy checks those).

        A final assistant message is continued (a prefill, as llama.cpp's server and transformers'
        ``continue_final_message`` read one): the answer is what the model writes after its text,
        which the safety policy reads as the caller's words. It cannot be combined with a
        ``response_format`` or a forced tool call.

        ``truncate``: where the conversation does not fit the context window with room for the
        answer, drop its oldest turns (the reply's ``trimmed_turns`` says how many); False: answer it
        whole in what remains, and a prompt past the window is a :class:`PromptTooLongError` (the
        HTTP server's rule, as OpenAI's and Anthropic's APIs refuse rather than drop)."""
        if not isinstance(truncate, bool):
            raise InvalidRequestError(f"truncate must be True or False, got {truncate!r:.40}.", "truncate")
        turn = self._given(messages, tools, truncate)
        return self._start(turn, enable_thinking, response_format, tool_choice, overrides)

    def prompt_tokens(
        self,
        messages: Sequence[MessageLike],
        *,
        tools: Sequence[Tool] | None = None,
        enable_thinking: bool | None = None,
    ) -> int:
        """How many tokens the model would read to :meth:`answer` ``messages``: the whole prompt,
        the system prompt with the policy's rules and the tools included (what Anthropic's
        ``count_tokens`` says). Nothing is run or dropped to fit."""
        return len(self.prompt_ids(messages, tools=tools, enable_thinking=enable_thinking))

    def prompt_ids(
        self,
        messages: Sequence[MessageLike],
        *,
        tools: Sequence[Tool] | None = None,
        enable_thinking: bool | None = None,
    ) -> list[int]:
        """The token ids :meth:`prompt_tokens` counts."""
        turn = self._given(messages, tools)
        return self._prompt.encode(turn, turn.history, self._thinking(enable_thinking))

    def _given(self, messages: Sequence[MessageLike], tools: Sequence[Tool] | None, truncate: bool = True) -> Turn:
        """A caller-kept conversation's turn: this assistant's system prompt and tools where it gives none."""
        tools_ = self.tools if tools is None else normalize_tools(tool_specs(tools))
        return given(messages, self.system, tools_, truncate)

    def _thinking(self, enable_thinking: bool | None) -> bool:
        """Whether this answer thinks (the assistant's own setting where the call gives none)."""
        self._check_thinking(enable_thinking)  # per answer too: it was accepted silently there
        return self.enable_thinking if enable_thinking is None else enable_thinking

    def _start(
        self,
        turn: Turn,
        enable_thinking: bool | None,
        response_format: Any,
        tool_choice: str | dict[str, Any],
        overrides: dict[str, Any],
    ) -> ReplyStream:
        config = self.config.with_(**overrides) if overrides else self.config
        check_logit_bias(config, self.backend.tokenizer.vocab_size)
        self.backend.check_reports(config)
        thinking = self._thinking(enable_thinking)
        if turn.continued is not None and (response_format is not None or tool_choice not in ("auto", "none")):
            # the grammar would have to read the text already written, tokenized as the prompt has it
            raise InvalidRequestError(
                "An answer that continues an assistant message cannot have a response_format or a forced "
                "tool_choice: end the messages with the user's, or drop the format.",
                "messages",
            )
        # fitted first: a prompt that cannot fit is refused for its length (a tokenizer's pass over it)
        # before the input checks read it (a 4 MB paste took them a minute)
        prompt_of = self._prompt
        ids, kept, dropped = prompt_of.fit(turn, config.max_tokens, thinking)
        refused, events, decision = self._check_input(turn)
        if refused is not None:
            return refused
        if turn.remember:  # a resumed answer stays in it as it was until the new part is added
            self._history = kept + ([turn.continued] if turn.own and turn.continued is not None else [])
        fmt = answer_format(self.backend, turn.tools, response_format, tool_choice)
        self._cancel.clear()
        messages = tuple(prompt_of.conversation(turn, kept)) if self.backend.renders_prompt else ()
        if messages and turn.continued is not None:
            messages += (turn.continued,)  # the server elsewhere continues it as its template does
        prompt, raw = turn.user_text, turn.raw is not None
        # the activation probe read chat prompts only: a raw prompt's last state is no such thing
        check = None if raw else self.guard.prefill_check(self.backend, decision, events, prompt)
        request = Request(
            tuple(ids),
            config,
            fmt,
            thinking,
            processors(self.backend, self.guard, len(ids), config, thinking),
            messages,
            turn.tools,
            "none" if tool_choice == "none" else "auto",
            prefill_check=check,
            keep_prefix=0 if raw else prompt_of.kept_head(turn, ids),
            # the prompt encoded a second time, without the continued text: only where a probe reads it
            check_at=prompt_of.check_at(turn, ids, kept, thinking) if check is not None else 0,
        )
        try:
            stream = self.backend.stream(request, self._cancel)  # grammars compile here, before any token
        except GrammarError as exc:
            if exc.param is None and turn.tools and (fmt is None or fmt.kind == "tool_call"):
                # the tools' schemas were compiled, not a response format: say so (the server's param)
                raise GrammarError(f"A tool's parameters cannot be used: {exc}", "tools") from exc
            raise
        chunks = self.guard.checked_output(self.backend, stream, events, prompt)
        return ReplyStream(
            iter(chunks),
            self._on_done(turn),
            thinking=thinking,
            trimmed=dropped,
            prefix_ids=answer_prefix(self.backend, thinking) if turn.continued is None else turn.own_ids,
            fmt=fmt,
            output_filter=self.guard.output_filter(turn.system, turn.written),
            events=events,
            retry=self._resampler(request, prompt),
            tools=turn.tools if tool_choice != "none" else (),
            logprobs=config.logprobs is not None,
            plain=raw,
            seed=continued_text(turn.continued, self.backend.template.family, thinking) if turn.continued else "",
            prompt_tokens=len(ids),
        )

    def _resampler(self, request: Request, request_text: str) -> Retry:
        """New answers to ``request``, for a structured answer that failed its check."""

        def answer(attempt: int, events: list[Any]) -> Iterator[Chunk]:
            config = resample_config(request.config, attempt)
            steps = processors(self.backend, self.guard, len(request.prompt_ids), config, request.thinking)
            again = replace(request, config=config, processors=steps)
            stream = self.backend.stream(again, self._cancel)
            return iter(self.guard.checked_output(self.backend, stream, events, request_text))

        return answer

    def _on_done(self, turn: Turn) -> Callable[[Reply], None]:
        """What a finished answer does to the history (nothing, for a caller-kept conversation)."""

        def on_done(reply: Reply) -> None:
            if not turn.remember:
                return
            if turn.continued is not None:  # the last answer, resumed: it grows by what was added
                last = turn.continued
                grown = Message(
                    "assistant",
                    last.content + reply.text,
                    thinking=last.thinking + reply.thinking,
                    tool_calls=reply.tool_calls,
                    token_ids=reply.token_ids or None,
                )
                self._history[-1] = grown
                return
            self._history.extend([*turn.new, reply.message()])

        return on_done

    # -- safety --------------------------------------------------------------------------------
    def _check_input(self, turn: Turn) -> tuple[ReplyStream | None, list[Any], InputDecision]:
        """The policy's screen of the new user text: (a refusal stream, or None to go on; the
        events so far). A refusal never calls the model."""
        earlier = [m.content for m in turn.history if m.role == "user"]
        results = [m.content for m in turn.new if m.role == "tool"]
        decision = self.guard.screen(self.backend, turn.user_text, earlier, results)
        if decision.action != "refuse":
            return None, list(decision.events), decision

        def on_done(reply: Reply) -> None:
            if turn.remember and turn.continued is None:  # a resumed answer is left as it was
                self._history.extend([*turn.new, Message("assistant", reply.text)])

        chunk = Chunk(
            self.guard.refusal_for(decision), finish_reason="refused", metrics=Metrics(finish_reason="refused")
        )
        return ReplyStream(iter([chunk]), on_done, events=list(decision.events)), list(decision.events), decision

    def complete(self, prompt: str | Sequence[int], *, response_format: Any = None, **overrides: Any) -> ReplyStream:
        """Continue ``prompt`` as it is written: no chat template, system prompt or history (a base
        model's use: few-shot text, or scoring a text with ``prompt_logprobs``). ``prompt`` is text,
        in which control tokens written out (``<|im_start|>``) are read as those tokens, or token
        ids. The reply's text is what the model wrote, markup included. The policy's input checks
        read the prompt and its output filters the answer; its system-prompt rules are not added
        (there is no system prompt) and the activation probe does not run (it knows chat prompts).
        ``response_format`` constrains the continuation as in :meth:`stream`."""
        if self.backend.renders_prompt:
            raise InvalidRequestError(
                f"The {self.backend.name} backend applies its own chat template, so it cannot continue a raw "
                "prompt; send messages to answer instead (chat() or answer(); over HTTP /v1/chat/completions, "
                "or /api/chat without raw).",
                "prompt",
            )
        ids, text = raw_prompt(self.backend.tokenizer, prompt)
        turn = Turn((Message("user", text),), (), None, (), remember=False, raw=tuple(ids))
        return self._start(turn, False, response_format, "none", overrides)

    def chat(self, text: str | Sequence[MessageLike], **overrides: Any) -> Reply:
        """Answer ``text`` and return the whole :class:`Reply`."""
        return self.stream(text, **overrides).reply()

    # -- structured output -------------------------------------------------------------------
    def json(self, text: str, schema: Any = None, *, lenient: bool = False, **overrides: Any) -> Any:
        """Answer as JSON: ``schema`` is a JSON Schema dict, a pydantic model class (returns an
        instance), any other type pydantic reads (``list[Item]``, a dataclass, ``Literal[...]``:
        returns that type) or None for any JSON object. The value is validated in full before it is
        returned (resampled if it breaks a keyword decoding cannot enforce); a prompt the safety
        policy refuses raises ``RefusedError`` (so do ``regex`` and ``choice``); ``lenient`` is
        deprecated and does nothing."""
        return value_of(self.chat(text, response_format=json_format(schema, lenient), **overrides))

    def regex(self, text: str, pattern: str, **overrides: Any) -> str:
        """Answer with text that fully matches ``pattern``."""
        return value_of(self.chat(text, response_format=ResponseFormat.regex(pattern), **overrides))

    def choice(self, text: str, options: Sequence[str], **overrides: Any) -> str:
        """Answer with exactly one of ``options``."""
        return value_of(self.chat(text, response_format=ResponseFormat.choice(options), **overrides))
