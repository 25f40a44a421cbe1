"""The analysis tests' tiny video sets and checkpoints, for the commands that analyse them."""
from analysis.conftest import tiny_checkpoints, tiny_sets  # noqa: F401  (pytest fixtures)
