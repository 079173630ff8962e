"""An offline assistant for a Raspberry Pi (or any small machine): read the machine, say which
Qwen model and context fit and how fast they should run (as `edgeqwen probe` does: with this
machine's timing where a probe made one), then chat with the best model that is installed (the
offline demo model when none is). Nothing is downloaded.

    python examples/pi_offline_assistant.py                       # interactive
    python examples/pi_offline_assistant.py "What is the capital of France?"
"""

from __future__ import annotations

import argparse
import sys

from edgeqwen import Assistant, EdgeQwenError
from edgeqwen.hub import installed_models, read_machine
from edgeqwen.probe import plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", help="ask one question and exit (default: chat until an empty line)")
    parser.add_argument("--measure", action="store_true", help="measure memory bandwidth (~0.4 s) for the estimate")
    args = parser.parse_args()

    snap, calibration, _ = read_machine(measure=args.measure)
    best = plan(snap, include_demo=False, calibration=calibration).best
    print(
        f"Machine: {snap.board or snap.cpu_model}, {snap.physical_cores} cores, "
        f"{snap.ram_available / 2**30:.1f} GiB RAM free"
    )
    if best is None:
        print("No Qwen model fits in free memory here; the demo model will still run.")
    else:
        reads = f", prompts read at about {best.prompt_tps:.0f} tokens/s" if best.prompt_tps else ""
        print(
            f"Best fit: {best.display} ({best.build}), context {best.context_length}, about "
            f"{best.decode_tps:.0f} tokens/s on {best.backend}{reads}"
        )
        if calibration is None:
            print("  (estimated: `edgeqwen probe` times this machine once, about 15 s, and says it closer)")
        if not any(name.startswith(best.model) for name in installed_models()):
            print(f"  not installed: get it with `edgeqwen pull {best.model}` while online")
    try:
        bot = Assistant(
            system="You are a helpful offline assistant. Keep answers short.",
            max_tokens=200,
            announce=lambda m: print(f"  {m}"),
        )
    except EdgeQwenError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    with bot:
        questions = [args.question] if args.question else iter(lambda: input("you> ").strip(), "")
        for question in questions:
            reply = bot.chat(question)
            m = reply.metrics
            print(f"bot> {reply.text}\n     [{m.decode_tps:.1f} tok/s, first token after {m.ttft_s * 1000:.0f} ms]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
