"""Real schemas as the values of JSON Schema's own meta-schemas, as ``jsonschema_bench.py`` cases.

Every schema is a value of its draft's meta-schema: a recursive schema of a few dozen keywords
whose values are large, deeply nested and full of keys the meta-schema does not name. This writes
one case per draft (4, 6 and 7, the meta-schemas ``jsonschema-specifications`` ships): the
meta-schema, and up to N schemas drawn from the given folders (any file ``jsonschema_bench.py``
reads), each labelled by ``jsonschema_bench.label`` (the check's verdict, formats as
annotations). 2019-09 and 2020-12 are left out: their meta-schemas are split over vocabulary
documents joined by ``$dynamicRef``, which edgeqwen refuses as references to other documents.

    python tools/bench/metaschema_cases.py OUT ../shared/data/jsonschemabench package/schemas/json [--n 300]
    python tools/bench/jsonschema_bench.py OUT
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from jsonschema_specifications import REGISTRY

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jsonschema_bench import corpus, label, write_cases  # noqa: E402

DRAFTS = {
    "draft-04": "http://json-schema.org/draft-04/schema#",
    "draft-06": "http://json-schema.org/draft-06/schema#",
    "draft-07": "http://json-schema.org/draft-07/schema#",
}


def cases(folders: list[Path], n: int, max_chars: int, seed: int = 0) -> dict[str, dict]:
    schemas = [case["schema"] for folder in folders for _path, case in corpus(folder)]
    schemas = [s for s in schemas if isinstance(s, dict) and len(json.dumps(s)) <= max_chars]
    out = {}
    for name, uri in DRAFTS.items():
        meta = REGISTRY.contents(uri)
        drawn = random.Random(f"{seed}:{name}").sample(schemas, min(n, len(schemas)))
        out[name] = {
            "description": uri,
            "schema": meta,
            "tests": [{"data": s, "valid": label(s, meta)} for s in drawn],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--n", type=int, default=300, help="schemas drawn per draft")
    parser.add_argument("--max-chars", type=int, default=20_000, help="larger schemas are left out (bench time)")
    args = parser.parse_args()
    for name, case in cases(args.folders, args.n, args.max_chars).items():
        values, valid = write_cases(args.out, {name: case})
        print(f"{name}: {values} schemas as values, {valid} valid")


if __name__ == "__main__":
    main()
