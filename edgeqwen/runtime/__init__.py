"""The generation runtime: sampling, logits processors and the generation loop."""
