"""The generation runtime: sampling, logits processors and the generation loop."""

__all__: list[str] = []
