"""What a server keeps compiled of what its clients send (schemas, grammars, patterns), bounded by
how many and by how much in all: one entry can weigh a thousand times another, and a bound by
count alone let 256 schemas of 830 kB hold 1.6 GB (docs/structured-output.md, "What the caches hold").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["Kept"]

K = TypeVar("K")
V = TypeVar("V")


class Kept(Generic[K, V]):
    """Values by recent use: at most ``most`` of them and ``weight`` in all, each value's own weight
    said when it is put (its text's length, a pattern's pieces); the newest is kept whatever it
    weighs. Thread-safe."""

    def __init__(self, most: int, weight: int) -> None:
        self.most, self.weight = most, weight
        self._values: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            hit = self._values.get(key)
            if hit is None:
                return None
            self._values.move_to_end(key)
            return hit[0]

    def put(self, key: K, value: V, weight: int) -> None:
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._total -= old[1]
            self._values[key] = (value, weight)
            self._total += weight
            while len(self._values) > 1 and (len(self._values) > self.most or self._total > self.weight):
                self._total -= self._values.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._total = 0

    @property
    def total(self) -> int:
        """The weight of what is kept."""
        return self._total

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values
