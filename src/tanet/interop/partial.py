"""Fine-tuning across families (``init_partial``): a TSN or TSM checkpoint into a TANet, a TANet into a TSM.

What such checkpoints share is the 2D ResNet (TSM's shift has no weights, TAM adds modules beside
the convolutions), so that part must fit exactly — another depth or width is still an error, never
a silent half-load. The model's temporal modules the file lacks stay fresh, the file's temporal
modules the model lacks are left out, and both are listed; I3D's inflated convolutions get the 2D
kernels as a 2D ImageNet file gives them. MMAction2's ``load_from`` loads any key that fits without
saying which did not; this says it and checks the backbone.
"""
from __future__ import annotations

from torch import nn

from tanet.checkpoint import load_state_checked
from tanet.modules.temporal import InflatedConv

from .loading import LoadedCheckpoint, LoadReport, _classifier_keys, _inflate_2d_kernels

__all__ = ["load_partial", "temporal_keys"]


def temporal_keys(keys) -> list[str]:
    """The keys of temporal modules (TAM) among ``keys``: what one family has and another lacks."""
    return [key for key in keys if ".tam." in key]


def load_partial(model: nn.Module, loaded: LoadedCheckpoint, *, classifier: str = "auto") -> LoadReport:
    """Load the 2D backbone of ``loaded`` (any family) into ``model`` strictly, the temporal modules both
    have, and the classifier as ``classifier`` says (``"auto"``: when its shape fits, ``"reset"``: never).

    The report's ``left_at_init`` lists the model's keys that stay fresh (its temporal modules the file
    lacks), ``dropped_keys`` the file's keys not used (temporal modules the model lacks, a classifier
    of another shape); ``partial`` is set.
    """
    where = f"{loaded.path} ({loaded.source_format} layout)"
    own = model.state_dict()
    inits = {f"{name}.weight": module.init for name, module in model.named_modules() if isinstance(module, InflatedConv)}
    state = _inflate_2d_kernels(dict(loaded.state_dict), own, inits)
    unused = [key for key in temporal_keys(state) if key not in own or state[key].shape != own[key].shape]
    state = {key: value for key, value in state.items() if key not in unused}
    classifier_keys = _classifier_keys(model)
    reset = classifier == "reset" or any(key in state and state[key].shape != own[key].shape for key in classifier_keys)
    if reset:
        unused += [key for key in classifier_keys if key in state]
        state = {key: value for key, value in state.items() if key not in classifier_keys}
    fresh_allowed = [key for key in temporal_keys(own) if key not in state] + (classifier_keys if reset else [])
    left = load_state_checked(model, state, source=where, allow_missing=fresh_allowed)
    class_names = None if reset else loaded.class_names
    if class_names is not None:
        model.class_names = class_names
    return LoadReport(loaded.path, loaded.source_format, [key for key in left if key not in classifier_keys],
                      reset, list(loaded.dropped_keys) + unused, class_names, loaded, partial=True)
