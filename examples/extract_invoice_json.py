"""Pull structured data out of free text: the answer is decoded under a grammar built from a
pydantic model, so it always parses and validates.

    python examples/extract_invoice_json.py                  # the built-in sample invoice
    python examples/extract_invoice_json.py invoice.txt      # your own text
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from edgeqwen import Assistant, EdgeQwenError

SAMPLE = """\
ACME Tools GmbH — Invoice INV-2041
Date: 3 March 2025
2 x cordless drill at 89.90 EUR
1 x drill bit set at 24.50 EUR
Total due: 204.30 EUR, payable within 30 days.
"""


class LineItem(BaseModel):
    description: str = Field(max_length=60)
    quantity: int = Field(ge=1, le=1000)
    unit_price: float = Field(ge=0)


class Invoice(BaseModel):
    vendor: str = Field(max_length=60)
    invoice_number: str = Field(max_length=20)
    date: str = Field(max_length=30)
    currency: Literal["EUR", "USD", "GBP", "other"]
    total: float = Field(ge=0)
    items: list[LineItem] = Field(max_length=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help="a text file holding an invoice (default: a sample)")
    parser.add_argument("--model", help="model folder or installed name (default: the best installed, else the demo)")
    args = parser.parse_args()
    text = args.file.read_text() if args.file else SAMPLE
    try:
        with Assistant(args.model, "You extract data from invoices exactly as written.", max_tokens=400) as bot:
            invoice = bot.json(f"Extract the invoice fields from this text:\n\n{text}", Invoice)
    except EdgeQwenError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(invoice.model_dump_json(indent=2))  # an Invoice instance: validated, typed
    return 0


if __name__ == "__main__":
    sys.exit(main())
