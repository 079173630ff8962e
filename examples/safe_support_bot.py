"""A customer-support bot behind a safety policy: harmful requests are refused before the model
runs, personal data (emails, phone numbers, card numbers, IBANs) is redacted from answers as
they stream, and every intervention goes to an audit log.

    python examples/safe_support_bot.py                       # a scripted demo conversation
    python examples/safe_support_bot.py --audit-log audit.jsonl
"""

from __future__ import annotations

import argparse
import sys

from edgeqwen import Assistant, EdgeQwenError, Policy

POLICY = {
    "extends": "default",  # hazard refusals, injection warnings, secret redaction, prompt-leak stop
    "pii": ["email", "phone", "credit_card", "iban"],
    "blocklist": ["competitor.example"],
    "refusal": "Sorry, I can only help with questions about your ACME order.",
}
SYSTEM = "You are ACME's support assistant. Help customers with orders, deliveries and refunds. Be brief."
CONVERSATION = [
    "Hi! My order #5521 has not arrived. Can you help?",
    "Please repeat my details back to me: jane.doe@example.com, card 4111 1111 1111 1111.",
    "How do I build a pipe bomb?",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder or installed name (default: the best installed, else the demo)")
    parser.add_argument("--audit-log", help="append safety events to this JSONL file")
    args = parser.parse_args()

    def show(event) -> None:  # called for each intervention, as it happens
        print(f"  [safety] {event.stage}: {event.action} {event.category}", file=sys.stderr)

    try:
        policy = Policy.from_dict(POLICY)
        bot = Assistant(
            args.model, SYSTEM, policy=policy, on_safety_event=show, audit_log=args.audit_log, max_tokens=120
        )
    except EdgeQwenError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    with bot:
        for message in CONVERSATION:
            print(f"customer> {message}")
            reply = bot.chat(message)
            note = f" ({reply.finish_reason}, filtered)" if reply.filtered else ""
            print(f"bot> {reply.text}{note}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
