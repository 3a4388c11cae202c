"""tt host tooling: talk to a board, build and flash firmware, compile training plans."""

__version__ = "0.1.0"
