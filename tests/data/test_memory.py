"""backend="memory": decode once per process, then the same frames as the decoder gives."""
import torch

from tanet.data import get_backend
from tanet.data.memory import clear_memory_cache, memory_cache_info
from tanet.data.synthetic import SyntheticSpec, generate


def test_memory_backend_matches_the_decoder_and_decodes_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    dataset = generate(SyntheticSpec("motion", num_classes=2, train_per_class=1, val_per_class=1, frames=6, size=32))
    path = str(dataset.root / dataset.train_list.read_text().split()[0])
    clear_memory_cache()
    memory = get_backend("memory")
    with get_backend(None).open(path) as reader:
        expected = reader.read([0, 3, 5, 3])
    for _ in range(3):
        with memory.open(path) as reader:
            assert reader.num_frames == 6
            assert torch.equal(reader.read([0, 3, 5, 3]), expected)
    info = memory_cache_info()
    assert (info["files"], info["misses"], info["hits"]) == (1, 1, 2)
    clear_memory_cache()
