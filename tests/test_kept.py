"""What a server keeps compiled of what clients send, bounded by count and by weight."""

from __future__ import annotations

import json

from edgeqwen.runtime.kept import Kept


def test_kept_by_recent_use_and_bounded_by_count_and_weight():
    kept: Kept[str, int] = Kept(3, 100)
    for key in "abc":
        kept.put(key, ord(key), 10)
    assert kept.get("a") == ord("a")  # used: the newest now
    kept.put("d", 4, 10)
    assert "b" not in kept and len(kept) == 3 and kept.total == 30  # the least recently used went
    kept.put("heavy", 5, 85)
    assert list(kept._values) == ["d", "heavy"] and kept.total == 95  # weight: as many go as must
    kept.put("heavy", 6, 200)  # the newest is kept whatever it weighs, alone
    assert len(kept) == 1 and kept.get("heavy") == 6 and kept.total == 200
    kept.clear()
    assert len(kept) == 0 and kept.total == 0 and kept.get("heavy") is None


def test_large_schemas_are_kept_by_their_length_not_only_their_number():
    """256 distinct schemas of 830 kB held 1.6 GB in the relax and check caches and the matchers (a
    server's body limit is 1 MB): each cache now also keeps at most 16 Mi characters of schema."""
    from edgeqwen.runtime import check as check_module
    from edgeqwen.runtime import relax as relax_module
    from edgeqwen.runtime.check import check

    big = {"type": "string", "enum": [f"value-{i}" for i in range(50_000)]}
    size = len(json.dumps(big))
    assert size > 700_000
    for i in range(40):
        schema = {**big, "title": f"variant {i}"}
        relax_module.relax(schema, validate=lambda grammar: None)  # the grammar is not what is measured
        assert check("value-7", schema) is None
    assert relax_module._cache.total <= 16 << 20 and len(relax_module._cache) <= (16 << 20) // size + 1
    assert check_module._validators.total <= 16 << 20 and len(check_module._validators) <= (16 << 20) // size + 1
