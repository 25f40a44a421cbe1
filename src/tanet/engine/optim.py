"""The official TSN/TAM optimisation policy: parameter groups, partial BN, LR scaling.

Groups (as ``get_optim_policies`` in the TSN/TSM/TAM code bases, re-implemented here):

=====================  ========  ==========  ==============================================
group                  lr_mult   decay_mult  parameters
=====================  ========  ==========  ==============================================
first_conv_weight      1         1           weight of the first convolution (``conv1``)
first_conv_bias        2         0           its bias, if any
normal_weight          1         1           every other convolution weight (and Linear
                                             weights not covered by the linear policy)
normal_bias            2         0           their biases
bn                     1         0           BatchNorm affine parameters (with partial BN:
                                             only the first BatchNorm layer)
lr5_weight             5         1           Linear weights under the linear policy
lr10_bias              10        0           Linear biases under the linear policy
=====================  ========  ==========  ==============================================

``linear_policy``: ``"official"`` puts *every* ``nn.Linear`` in the x5/x10 groups (the TAM
repo trains with ``fc_lr5`` on, which also catches TAM's global-branch Linears);
``"classifier"`` does this for the classifier only (MMAction2's ``TSMOptimizerConstructor``);
``"except_classifier"`` for every Linear but the classifier (in TANet: the official boost of TAM's
global branch, with the classifier at x1); ``"none"`` treats Linear layers like convolutions.
"""
from __future__ import annotations

from typing import Iterable, Optional

import torch
from torch import nn

from tanet.engine.config.validation import LINEAR_POLICY_NAMES

_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
               nn.ConvTranspose3d)
_BN_TYPES = (nn.modules.batchnorm._BatchNorm,)
# Partial BN freezes spatial BatchNorm (the official code switches BatchNorm2d layers to
# eval mode); BatchNorm1d inside TAM keeps updating its running statistics.
_SPATIAL_BN_TYPES = (nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)

GROUP_SPECS = (
    # name, lr_mult, decay_mult
    ("first_conv_weight", 1.0, 1.0),
    ("first_conv_bias", 2.0, 0.0),
    ("normal_weight", 1.0, 1.0),
    ("normal_bias", 2.0, 0.0),
    ("bn", 1.0, 0.0),
    ("lr5_weight", 5.0, 1.0),
    ("lr10_bias", 10.0, 0.0),
)


def find_classifier(model: nn.Module) -> Optional[nn.Linear]:
    """The classification layer: ``model.get_classifier()``, ``model.fc``, else the last Linear."""
    model = unwrap(model)
    if hasattr(model, "get_classifier"):
        classifier = model.get_classifier()
        if isinstance(classifier, nn.Linear):
            return classifier
    if isinstance(getattr(model, "fc", None), nn.Linear):
        return model.fc
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DDP/DataParallel/``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def _is_conv_like(module: nn.Module) -> bool:
    """A torch convolution, or a custom one (e.g. I3D's inflated t x k x k convolution)
    that holds exactly a kernel ``weight`` of >= 3 dimensions and optionally a ``bias``."""
    if isinstance(module, _CONV_TYPES):
        return True
    if isinstance(module, (nn.Linear, *_BN_TYPES)):
        return False
    own = dict(module.named_parameters(recurse=False))
    weight = own.get("weight")
    return (weight is not None and weight.dim() >= 3 and set(own) <= {"weight", "bias"})


def build_param_groups(model: nn.Module, linear_policy: str = "official",
                       partial_bn: bool = False) -> list[dict]:
    """Split the trainable parameters of ``model`` into the official groups.

    Returns a list of dicts with ``name``, ``params``, ``lr_mult`` and ``decay_mult``
    (empty groups are dropped). Raises ``ValueError`` for a parameter-holding leaf module
    of a type without a policy, as the official code does, so nothing is silently left out.
    """
    if linear_policy not in LINEAR_POLICY_NAMES:
        raise ValueError(f"linear_policy must be one of {', '.join(LINEAR_POLICY_NAMES)}, got {linear_policy!r}")
    model = unwrap(model)
    classifier = find_classifier(model)
    buckets: dict[str, list[nn.Parameter]] = {name: [] for name, _, _ in GROUP_SPECS}
    conv_count = bn_count = 0
    assigned: set[int] = set()
    for module in model.modules():
        own = [p for p in module.parameters(recurse=False)]
        if _is_conv_like(module):
            conv_count += 1
            prefix = "first_conv" if conv_count == 1 else "normal"
            buckets[f"{prefix}_weight"].append(module.weight)
            if getattr(module, "bias", None) is not None:
                buckets[f"{prefix}_bias"].append(module.bias)
        elif isinstance(module, nn.Linear):
            boosted = linear_policy == "official" or (
                linear_policy == "classifier" and module is classifier) or (
                linear_policy == "except_classifier" and module is not classifier)
            buckets["lr5_weight" if boosted else "normal_weight"].append(module.weight)
            if module.bias is not None:
                buckets["lr10_bias" if boosted else "normal_bias"].append(module.bias)
        elif isinstance(module, _BN_TYPES):
            bn_count += 1
            # With partial BN only the first BatchNorm is optimised (official semantics:
            # the counter runs over every BatchNorm type, TAM's BatchNorm1d included).
            if not partial_bn or bn_count == 1:
                buckets["bn"].extend(own)
        elif own:
            raise ValueError(
                f"no learning-rate policy for parameters of {type(module).__name__}; "
                "supported: convolutions (a >= 3-d kernel 'weight' and optional 'bias'), "
                "Linear, BatchNorm"
            )
        assigned.update(id(p) for p in own)
    unassigned = [n for n, p in model.named_parameters() if id(p) not in assigned]
    if unassigned:
        raise ValueError(f"parameters outside any policy group: {unassigned[:5]}")
    groups = []
    for name, lr_mult, decay_mult in GROUP_SPECS:
        params = [p for p in buckets[name] if p.requires_grad]
        if params:
            groups.append({"name": name, "params": params, "lr_mult": lr_mult,
                           "decay_mult": decay_mult})
    return groups


def build_optimizer(groups: list[dict], lr: float, momentum: float = 0.9,
                    weight_decay: float = 1e-4, nesterov: bool = False,
                    name: str = "sgd") -> torch.optim.Optimizer:
    """SGD (or AdamW) over the policy groups; each group's lr/wd is the base times its multiplier."""
    scaled_groups = [
        {**g, "lr": lr * g["lr_mult"], "weight_decay": weight_decay * g["decay_mult"]}
        for g in groups
    ]
    # One fused kernel per step instead of a loop over tensors: on the demo's tiny models the per-tensor
    # loop was 12 % of a CPU training step (AdamW 27.6 -> 5.1 ms per step on tanet_r26 at width 1/8).
    fused = _fused_supported(scaled_groups)
    if name == "adamw":
        return torch.optim.AdamW(scaled_groups, lr=lr, weight_decay=weight_decay, fused=fused)
    if name != "sgd":
        raise ValueError(f"unknown optimizer {name!r}; valid: sgd, adamw")
    return torch.optim.SGD(scaled_groups, lr=lr, momentum=momentum, weight_decay=weight_decay,
                           nesterov=nesterov, fused=fused)


def _fused_supported(groups: list[dict]) -> Optional[bool]:
    """True when every parameter is a floating-point tensor on a device with fused optimizer kernels; None
    otherwise, which lets torch choose its default (the foreach loop)."""
    params = [p for g in groups for p in g["params"]]
    supported = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return True if supported else None


def scaled_lr(lr: float, global_batch_size: int, base_batch_size: Optional[int]) -> float:
    """Linear scaling rule (Goyal et al.): ``lr * global_batch / base_batch``."""
    if base_batch_size is None:
        return lr
    return lr * global_batch_size / base_batch_size


def partial_bn_layers(model: nn.Module) -> list[nn.Module]:
    """Spatial BatchNorm layers frozen by partial BN: all but the first one."""
    spatial = [m for m in unwrap(model).modules() if isinstance(m, _SPATIAL_BN_TYPES)]
    return spatial[1:]


def set_train_mode(model: nn.Module, train: bool = True, partial_bn: bool = False) -> None:
    """``model.train(train)``, then with partial BN put the frozen BN layers back in eval.

    Frozen layers keep their ImageNet statistics and affine parameters. The affine
    parameters of the other BatchNorm layers after the first (TAM's BatchNorm1d) stay out
    of the optimizer, as in the official grouping, and are marked ``requires_grad=False``.
    """
    model.train(train)
    if not partial_bn:
        return
    frozen = partial_bn_layers(model)
    for layer in frozen:
        if train:
            layer.eval()
    bare = unwrap(model)
    bns = [m for m in bare.modules() if isinstance(m, _BN_TYPES)]
    for layer in bns[1:]:
        for param in layer.parameters(recurse=False):
            param.requires_grad_(False)


def trainable_parameters(groups: Iterable[dict]) -> list[nn.Parameter]:
    return [p for g in groups for p in g["params"]]


__all__ = [
    "GROUP_SPECS", "build_param_groups", "build_optimizer", "scaled_lr", "find_classifier",
    "unwrap", "partial_bn_layers", "set_train_mode", "trainable_parameters",
]
