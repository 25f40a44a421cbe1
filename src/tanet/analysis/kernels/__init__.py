"""What TAM learns: importance maps V, video-adaptive kernels Θ and I3D's static 3×1×1 kernels.

The paper's supplementary study, as a tool that works on any checkpoint and list of videos::

    from tanet.analysis.kernels import KernelDataset, analyse_kernels
    summary = analyse_kernels(
        [KernelDataset("appearance", "runs/app/last.pt", "app/val.txt", "app", i3d_checkpoint="runs/app_i3d/last.pt"),
         KernelDataset("motion", "runs/mot/last.pt", "mot/val.txt", "mot", i3d_checkpoint="runs/mot_i3d/last.pt")],
        blocks=["layer3.1", "layer4.1"], out_dir="runs/kernels")

For every data set (a TANet checkpoint and the videos it is probed with) and every block, V (C×T) and
Θ (C×K) of each video are read through :class:`~tanet.modules.tam.TAMCapture` (the forward is not
changed); an I3D 3×1×1 checkpoint of the same depth gives the static temporal kernels of the same block.
Written to ``out_dir``:

* ``kernels_<block>.png`` / ``.svg`` — one figure per block: V per frame position, Θ per tap and the
  I3D kernels per tap, data sets side by side;
* ``kernels.json`` — the numbers behind the paper's three observations (V smoother than Θ, narrow I3D
  kernels, Θ differing between data sets while I3D kernels do not);
* ``kernels.npz`` — the raw arrays, keys ``<data set>/<block>/<array>``.

Block names (``layer3.5`` or the paper's ``stage4_6b``) are those of :mod:`tanet.models.block_names`.
The modules: :mod:`.capture` reads the kernels from a model, :mod:`.statistics` turns them into numbers,
:mod:`.plots` draws them and :mod:`.analysis` runs the study over checkpoints and writes the files.
"""
from tanet.models.block_names import BlockNameError, block_aliases, parse_block_name, resolve_block

from .analysis import KernelDataset, analyse_kernels, extract_dataset, format_summary
from .capture import capture_tam_block, static_temporal_kernels
from .statistics import BlockKernels, js_divergence, normalise_static_kernels, temporal_smoothness

__all__ = [
    "KernelDataset",
    "BlockKernels",
    "BlockNameError",
    "parse_block_name",
    "block_aliases",
    "resolve_block",
    "capture_tam_block",
    "static_temporal_kernels",
    "normalise_static_kernels",
    "js_divergence",
    "temporal_smoothness",
    "analyse_kernels",
    "extract_dataset",
    "format_summary",
]
