"""Small helpers shared by every layer (they import nothing else of tanet)."""
from .cache import tanet_home
from .io import atomic_write, atomic_write_json, atomic_write_text, remove_stale_temporaries

__all__ = ["atomic_write", "atomic_write_json", "atomic_write_text", "remove_stale_temporaries", "tanet_home"]
