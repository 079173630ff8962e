"""python -m edgeqwen.cli: the edgeqwen command."""

from . import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
