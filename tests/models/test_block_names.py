"""Block names: torchvision style and the paper's, resolved against a model."""
from __future__ import annotations

import pytest

import tanet
from tanet.models import BlockNameError, parse_block_name, resolve_block


@pytest.mark.parametrize(
    "name, expected",
    [("layer3.5", (3, 5)), ("backbone.layer1.0", (1, 0)), ("backbone.layer4.1.tam", (4, 1)), ("stage4_6b", (3, 5)),
     ("stage5_3b", (4, 2)),
     ("stage2_1", (1, 0)), ("stage3_4a", (2, 3))],
)
def test_parse_block_name(name, expected):
    assert parse_block_name(name) == expected


@pytest.mark.parametrize("name", ["stage1_1b", "stage6_1b", "stage4_0b", "stage4_6z", "layer0.1", "layer5.0", "conv1", ""])
def test_parse_block_name_rejects_malformed(name):
    with pytest.raises(BlockNameError, match="layerS.B"):
        parse_block_name(name)


def test_resolve_block_against_model_lists_valid_names():
    r50 = tanet.create_model("tanet_r50", num_classes=2, num_segments=4, width=0.0625)
    assert resolve_block("stage4_6b", r50) == "layer3.5"
    assert resolve_block("stage5_3b", r50) == "layer4.2"
    r18 = tanet.create_model("tanet_r18", num_classes=2, num_segments=4, width=0.125)
    with pytest.raises(BlockNameError) as info:
        resolve_block("stage4_6b", r18)
    message = str(info.value)
    assert "layer3.5" in message and "layer3.1 (stage4_2b)" in message and "layer4.1 (stage5_2b)" in message
    with pytest.raises(BlockNameError, match="valid blocks: layer1.0"):
        resolve_block("res4b", r18)


def test_r26_blocks_the_papers_way():
    # ResNet-26 has 2 bottlenecks per stage: the last blocks of layer3 / layer4 are stage4_2b / stage5_2b
    # (as stage4_6b / stage5_3b name them in ResNet-50)
    from tanet.models import block_aliases, default_blocks

    r26 = tanet.create_model("tanet_r26", num_classes=2, num_segments=4, width=0.0625, tam_position="c")
    assert default_blocks(r26) == ["layer3.1", "layer4.1"]
    assert [block_aliases(*parse_block_name(name)) for name in default_blocks(r26)] == ["stage4_2b", "stage5_2b"]
    assert resolve_block("stage4_2b", r26) == "layer3.1" and resolve_block("stage5_2c", r26) == "layer4.1"
    with pytest.raises(BlockNameError, match=r"layer4\.1 \(stage5_2b\)"):
        resolve_block("stage5_3b", r26)
