"""Write the MMAction2 fixtures of tests/interop with MMAction2's and mmengine's own code.

Run with the separate MMAction2 1.2.0 environment (never a dependency of tanet)::

    /work/mmaction-venv/bin/python tests/interop/data/make_mmaction2_fixtures.py

It writes, next to itself:

* ``mmaction2_{tsm,tanet}_r50_k400.json``: the state-dict keys, shapes and dtypes of MMAction2's
  ``Recognizer2D`` built from its own model configs (``configs/_base_/models/tsm_r50.py``,
  ``tanet_r50.py``: ``ResNetTSM``/``TANet`` depth 50, 8 segments, ``TSMHead`` with 400 classes), and
  the logits MMAction2 computes in eval mode when the weights are
  ``reference_weights.random_state(keys, seed)`` and the input ``random_input(shape, seed)``;
* ``mmaction2_epoch_1.pth``: a checkpoint written by mmengine's ``Runner`` (``CheckpointHook``)
  after one training epoch of a small MMAction2 TSM (``ResNetTSM`` depth 18 cut after its first stage, on
  random frames; SGD without momentum, to keep the file small), so it carries ``meta``,
  ``state_dict``, ``message_hub`` (mmengine objects),
  ``optimizer`` and ``param_schedulers`` exactly as MMAction2's runner writes them.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from reference_weights import random_input, random_state  # noqa: E402

WEIGHT_SEED, INPUT_SEED = 0, 1
INPUT_SHAPE = (2, 8, 3, 64, 64)  # (N, T, C, H, W), as MMAction2's Recognizer2D takes it


def recognizer_config(name: str) -> dict:
    from mmengine.config import Config
    import mmaction

    configs = Path(mmaction.__file__).parent / ".mim" / "configs" / "_base_" / "models"
    model = Config.fromfile(str(configs / f"{name}_r50.py")).model.to_dict()
    model["backbone"]["pretrained"] = None  # no download; the weights are set below
    model["backbone"].setdefault("num_segments", 8)
    model.pop("data_preprocessor", None)
    return model


def write_key_list(name: str) -> None:
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    register_all_modules()
    model = MODELS.build(recognizer_config(name)).eval()
    entries = [(key, list(value.shape), str(value.dtype).removeprefix("torch."))
               for key, value in model.state_dict().items()]
    model.load_state_dict(random_state(entries, WEIGHT_SEED), strict=True)
    with torch.no_grad():
        logits = model(random_input(INPUT_SHAPE, INPUT_SEED), mode="tensor", stage="head")
    import mmaction

    record = {
        "written_by": f"mmaction2 {mmaction.__version__}, torch {torch.__version__}, "
                      "tests/interop/data/make_mmaction2_fixtures.py",
        "config": recognizer_config(name),
        "weight_seed": WEIGHT_SEED, "input_seed": INPUT_SEED, "input_shape_ntchw": list(INPUT_SHAPE),
        "keys": entries,
        "logits": logits.tolist(),
    }
    path = HERE / f"mmaction2_{name}_r50_k400.json"
    path.write_text(json.dumps(record, indent=None) + "\n")
    print(f"wrote {path} ({len(entries)} keys, logits {tuple(logits.shape)})")


class _RandomClips(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        from mmaction.structures import ActionDataSample

        generator = torch.Generator().manual_seed(index)
        frames = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=generator)
        return dict(inputs=frames, data_samples=ActionDataSample().set_gt_label(index % 2))


def _register_first_stage_tsm():
    from mmaction.models.backbones import ResNetTSM
    from mmaction.registry import MODELS

    @MODELS.register_module(force=True)
    class FirstStageResNetTSM(ResNetTSM):
        """MMAction2's ResNetTSM-18, shift and all, cut after its first stage: the real key layout in a
        small file (ResNetTSM itself needs all four stages to build its shifts)."""

        def __init__(self, **kwargs):
            super().__init__(depth=18, **kwargs)
            for name in ("layer2", "layer3", "layer4"):
                delattr(self, name)
            self.res_layers, self.out_indices = ["layer1"], (0,)


def write_runner_checkpoint() -> None:
    from mmengine.runner import Runner
    from mmaction.utils import register_all_modules

    register_all_modules()
    _register_first_stage_tsm()
    work_dir = Path(tempfile.mkdtemp())
    try:
        runner = Runner(
            model=dict(
                type="Recognizer2D",
                backbone=dict(type="FirstStageResNetTSM", num_segments=8, pretrained=None, pretrained2d=False,
                              norm_eval=False),
                cls_head=dict(type="TSMHead", num_classes=2, in_channels=64, num_segments=8,
                              spatial_type="avg", consensus=dict(type="AvgConsensus", dim=1),
                              dropout_ratio=0.5, init_std=0.001, is_shift=True, average_clips="prob"),
                data_preprocessor=dict(type="ActionDataPreprocessor", mean=[123.675, 116.28, 103.53],
                                       std=[58.395, 57.12, 57.375], format_shape="NCHW")),
            work_dir=str(work_dir),
            train_dataloader=dict(dataset=_RandomClips(), batch_size=2, num_workers=0,
                                  sampler=dict(type="DefaultSampler", shuffle=False),
                                  collate_fn=dict(type="pseudo_collate")),
            train_cfg=dict(by_epoch=True, max_epochs=1),
            optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01, weight_decay=1e-4)),
            param_scheduler=[dict(type="MultiStepLR", by_epoch=True, milestones=[1], gamma=0.1)],
            default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1)),
            randomness=dict(seed=0),
            default_scope="mmaction",
        )
        runner.train()
        shutil.copyfile(work_dir / "epoch_1.pth", HERE / "mmaction2_epoch_1.pth")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print(f"wrote {HERE / 'mmaction2_epoch_1.pth'}")


if __name__ == "__main__":
    write_key_list("tsm")
    write_key_list("tanet")
    write_runner_checkpoint()
