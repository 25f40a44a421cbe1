"""The recipe as typed dataclasses: sections ``model`` (with ``temporal``), ``data`` (with ``synthetic``),
``optim``, ``schedule`` and ``runtime``. Missing keys keep these defaults; ``None`` marks a value that
is derived from others when the run resolves its configuration (:mod:`tanet.engine.resolve`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Union

from .fields import apply_dict
from .validation import validate

__all__ = ["TemporalConfig", "ModelConfig", "SyntheticSetConfig", "DataConfig", "OptimConfig", "ScheduleConfig",
           "RuntimeConfig", "TrainConfig"]


@dataclass
class TemporalConfig:
    """The paper's knobs: the temporal options of ``tanet.create_model``, as
    :class:`tanet.models.TemporalSpec` names them. Each model family reads its own."""

    tam_position: str = "b"  # TA-Block style: a (before conv1), b (after conv1), c, d
    tam_alpha: int = 2  # global branch: hidden layer of alpha*T units
    tam_beta: int = 4  # local branch: hidden layer of C/beta channels
    tam_kernel_size: int = 3  # K, the adaptive kernel's size (odd)
    tam_branches: str = "both"  # "both", "local" (V only) or "global" (Θ only)
    temporal_stages: list = field(default_factory=lambda: [1, 2, 3, 4])  # ResNet stages with a temporal module
    shift_fold_div: int = 8  # TSM: 1/fold_div of the channels shift each way
    inflate_size: int = 3  # I3D: temporal size of the inflated conv
    inflate_init: str = "centre"  # I3D: a 2D ImageNet kernel on the "centre" tap, or "spread" over the taps (MMAction2)


@dataclass
class ModelConfig:
    """Which network to build (``tanet.create_model`` arguments)."""

    name: str = "tanet_r50"
    num_classes: Optional[int] = None  # None: number of lines of data.class_names
    num_segments: int = 8
    dropout: float = 0.5
    width: float = 1.0
    # Where the 2D part starts from: a 2D ImageNet ResNet file (torchvision/timm keys), a reserved name, or
    # "scratch" (from scratch, chosen). None: not given -- from scratch (unless init_from / weights start
    # the model), with a warning when the recipe expects ImageNet weights (pretrained_expected).
    pretrained: Optional[str] = None
    pretrained_expected: bool = False  # the recipe is meant to start from ImageNet weights (the official recipes)
    # fine-tuning: a video checkpoint (tanet, official TAM, MMAction2) whose backbone and temporal
    # modules start the model; its classifier too when the class count matches, else a fresh one
    init_from: Optional[str] = None
    weights: Optional[str] = None  # the same from a published checkpoint by name (`tanet weights list`)
    weights_file: Optional[str] = None  # local copy of model.weights (None: $TANET_HOME/weights)
    allow_unverified: bool = False  # use model.weights although no checksum is published for it
    # init_from / weights of another family (a TSN or TSM checkpoint into a TANet): load the shared 2D backbone,
    # keep the temporal modules the file lacks fresh (listed in the run summary)
    init_partial: bool = False
    # zero the scale of each residual block's last BatchNorm, so that the network starts as its shortcuts
    # (timm's zero_init_last): "auto" does it when the model starts from random weights, where it removes the
    # first epochs' validation-loss blow-ups of SGD from scratch; a loaded start overwrites these weights anyway
    zero_init_last: Union[bool, str] = "auto"
    temporal: TemporalConfig = field(default_factory=TemporalConfig)


@dataclass
class SyntheticSetConfig:
    """One of the built-in procedurally generated sets as the data (rendered once, cached under
    ``$TANET_HOME/synthetic``). With ``kind`` set, the set's lists, root and class names fill
    ``data.train_list``, ``data.val_list``, ``data.root`` and ``data.class_names``."""

    kind: Optional[str] = None  # "motion" or "appearance"; None: the data are data.train_list etc.
    preset: str = "default"  # "default" or "quick" (smaller sets)
    num_classes: Optional[int] = None  # the first N classes of the kind (None: the preset's)
    seed: int = 0  # seed of the rendering (the set, not the training run)
    validate: bool = True  # validate on the set's val split after each epoch


@dataclass
class DataConfig:
    """Where the videos are and how clips are sampled and augmented."""

    synthetic: SyntheticSetConfig = field(default_factory=SyntheticSetConfig)
    train_list: Optional[str] = None
    val_list: Optional[str] = None
    root: str = ""
    class_names: Optional[str] = None  # text file, one class name per line
    sampling: str = "segment"  # "segment" (TSN) or "dense" (Kinetics recipe)
    # "official": the TAM code's frame indices (tail frames never sampled in training, short videos repeat
    # frame 1, the middle dense window); "spread": segments over the whole video (MMAction2 keep_tail_frames)
    sampling_rule: str = "official"
    dense_interval: Optional[int] = None  # dense sampling stride; None: 64 // num_segments
    size: int = 224
    scale_size: Optional[int] = None  # short side the crops come from; None: size * 256 // 224 (official)
    # "auto": flip half of the clips when the class names are known (a mirrored clip of a class with a
    # mirrored partner, left_to_right / right_to_left, takes the partner's label; a direction class without
    # one is never flipped), and never when they are unknown (a mirrored clip could not be relabelled).
    # True: flip even with unknown names (mirrored clips keep their labels). False: never. "swap": as
    # "auto", but data.class_names is required.
    flip: Union[bool, str] = "auto"
    crop_scales: list = field(default_factory=lambda: [1.0, 0.875, 0.75, 0.66])  # multi-scale crop
    val_protocol: str = "efficient"  # evaluation after each epoch: efficient|accurate|twice_sample|dense
    test_protocol: str = "efficient"  # what `tanet test` uses unless --protocol says otherwise
    backend: Optional[str] = None  # video reader backend (None: automatic)
    frames: Optional[bool] = None  # list lines are frame folders (None: decide per line)
    frame_template: str = "img_{:05d}.jpg"
    strict: bool = False  # raise on an unreadable video instead of skipping it
    max_skip_fraction: float = 0.1  # stop when more of an epoch's videos than this could not be read
    batch_size: int = 8  # clips per process and step
    val_batch_size: Optional[int] = None  # None: same as batch_size
    num_workers: Union[int, str] = 0  # loader processes per training process; "auto": one per spare core
    persistent_workers: bool = True  # only used when num_workers > 0
    pin_memory: bool = True  # only used on CUDA


@dataclass
class OptimConfig:
    """SGD with the official TSN/TAM parameter groups (AdamW for small from-scratch CPU runs)."""

    name: str = "sgd"  # "sgd" (every official recipe) or "adamw" (faster from scratch on tiny data)
    lr: float = 0.01  # learning rate at base_batch_size
    base_batch_size: Optional[int] = None  # None: use lr as is; else linear scaling rule
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    # "official": every Linear weight x5 lr, Linear biases x10 (TAM repo's fc_lr5: new layers on a pretrained
    # backbone learn faster); "classifier": only the classifier (MMAction2); "except_classifier": every Linear
    # but the classifier (TANet: TAM's global branch); "none": Linear layers as normal weights; "auto":
    # official when the model starts from pretrained weights, none from scratch.
    linear_lr_policy: str = "auto"
    partial_bn: bool = False
    clip_grad_norm: Optional[float] = 20.0
    label_smoothing: float = 0.0


@dataclass
class ScheduleConfig:
    """Learning-rate schedule, evaluated per iteration."""

    name: str = "step"  # "step" or "cosine"
    epochs: int = 100
    milestones: list = field(default_factory=lambda: [50, 75, 90])  # epochs (step)
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    warmup_start_factor: float = 0.1  # lr multiplier at the first warm-up iteration
    min_lr_factor: float = 0.0  # cosine floor as a fraction of the peak lr


@dataclass
class RuntimeConfig:
    """Where and how the run executes."""

    out: str = "runs/train"
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    amp: str = "none"  # "none", "bf16" (CPU or GPU), "fp16" (GPU)
    # "auto": decided per device once, when the recipe is resolved (engine/resolve.py): on where it measured
    # faster (CPUs with oneDNN; GPUs under mixed precision); true / false: as set
    channels_last: Union[bool, str] = "auto"
    compile: bool = False
    sync_bn: bool = False
    dist_backend: str = "auto"  # "auto" (nccl on GPU, gloo on CPU), "nccl", "gloo"
    resume: Optional[str] = None  # a checkpoint path, or "auto": out/last.pt, or a new run in a folder with none
    # keys that may change on resume although they change what the model learns from (data.size, ...)
    resume_allow: list = field(default_factory=list)
    overwrite: bool = False  # replace the run already in `out` (without it, such a folder is refused)
    eval_every: int = 1  # epochs between validations (the last epoch is always validated)
    progress: bool = True  # progress bars (main process only)
    # "auto": TensorBoard scalars when the tensorboard package is installed, silently nothing otherwise;
    # true: asked for (a notice when it is not installed); false: off
    tensorboard: Union[bool, str] = "auto"
    log_every: int = 20  # iterations between log lines when progress bars are off
    max_steps_per_epoch: Optional[int] = None  # cut epochs short (smoke tests)
    deterministic: bool = False  # torch.use_deterministic_algorithms
    num_threads: Optional[int] = None  # torch.set_num_threads (None: PyTorch's default)


@dataclass
class TrainConfig:
    """A complete training recipe."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> "TrainConfig":
        config = cls()
        apply_dict(config, data, source=source)
        config.validate()
        return config

    def validate(self) -> None:
        """Check values that the type alone does not (choices, ranges, finite numbers)."""
        validate(self)
