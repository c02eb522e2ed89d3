"""Replay the live strategy over quote history: ``tsabot replay``."""
