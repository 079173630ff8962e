"""Prefixes whose KV a backend keeps apart from its live cache (``Request.keep_prefix``).

A guard model's prompt and answer templates alternate, a self-check's prompts run on the
answering model between a conversation's turns, and an app's side requests (a chat's title, its
tags) run between prompts that start with the same system turn: the live cache alone would prefill
each of them again every time. A backend copies a named prefix's KV out after the prefill that
computed it and back in for a later prompt that starts with it, whatever ran between. What a copy
holds is the backend's own (arrays, a llama.cpp state blob); which prefixes are kept, and for how
long, is here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

__all__ = ["KEPT_PREFIXES", "KEPT_RESERVE", "KEPT_SHARE", "KeptPrefixes", "room_for"]

# At most this many, and their tokens together within this share of the context, so what they
# hold is bounded by the cache they are copied from; the least recently used go first.
KEPT_PREFIXES = 4
KEPT_SHARE = 0.5
# Copies are not in the memory plan (backends.base.plan_memory sizes the cache alone), so one is
# made only while this much stays free after it: a machine near its limit prefills again instead.
KEPT_RESERVE = 512 * 1024**2


def room_for(nbytes: int) -> bool:
    """Whether a copy of ``nbytes`` leaves ``KEPT_RESERVE`` free (a container's limit counted)."""
    from ..probe.limits import available_memory

    return available_memory() - nbytes >= KEPT_RESERVE


Key = tuple[int, ...]
V = TypeVar("V")


class KeptPrefixes(Generic[V]):
    """The prefixes named to be kept, each with its copy once a prefill has computed it."""

    def __init__(self, context_length: int) -> None:
        self.context_length = context_length
        self._items: OrderedDict[Key, V | None] = OrderedDict()

    def want(self, token_ids: Sequence[int]) -> None:
        """Keep this prefix once a prefill computes it (most recently used from now)."""
        key = tuple(int(t) for t in token_ids)
        bound = self.context_length * KEPT_SHARE
        if len(key) < 2 or len(key) > bound:
            return
        if key in self._items:
            self._items.move_to_end(key)
            return
        self._items[key] = None
        while len(self._items) > KEPT_PREFIXES or sum(map(len, self._items)) > bound:
            self._items.popitem(last=False)

    def waiting(self, tokens: Sequence[int]) -> list[Key]:
        """The prefixes not yet copied that ``tokens`` start with, shortest first."""
        found = [k for k, v in self._items.items() if v is None and len(k) <= len(tokens)]
        return sorted((k for k in found if tuple(tokens[: len(k)]) == k), key=len)

    def put(self, key: Key, copy: V) -> None:
        if key not in self._items:
            return
        self._items[key] = copy
        # the kept prefixes this one extends (a conversation's earlier turns) are left to it: one
        # copy, not one per turn (only now: the prefill that computed it may have restored them)
        for shorter in [k for k in self._items if len(k) < len(key) and key[: len(k)] == k]:
            del self._items[shorter]

    def best(self, token_ids: Sequence[int], same: int) -> tuple[Key, V] | None:
        """The longest copied prefix of ``token_ids`` longer than the ``same`` positions the live
        cache already shares with it, leaving at least two prompt tokens to run (the
        reproducibility rule of ``reusable_prefix``)."""
        best: tuple[Key, V] | None = None
        for key, copy in self._items.items():
            n = len(key)
            if copy is not None and same < n <= len(token_ids) - 2 and (best is None or n > len(best[0])):
                if tuple(token_ids[:n]) == key:
                    best = (key, copy)
        if best is not None:
            self._items.move_to_end(best[0])
        return best

    def drop(self, key: Key) -> None:
        self._items.pop(key, None)

    def copies(self) -> Iterator[V]:
        return (v for v in self._items.values() if v is not None)

    def clear(self) -> None:
        self._items.clear()

    def __iter__(self) -> Iterator[Key]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
