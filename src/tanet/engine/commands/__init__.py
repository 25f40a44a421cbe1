"""Command-line front ends of the engine: ``tanet train``, ``tanet test``, ``tanet predict``."""
