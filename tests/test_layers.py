"""The package's layers import one way: a lower layer never imports a higher one, not even inside a
function, and the light entry points stay light."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tanet"

# modules -> models -> data -> checkpoint -> (interop, factory) -> engine -> analysis -> demo -> cli
LAYERS = [
    ("tanet.errors", 0), ("tanet.utils", 0),
    ("tanet.modules", 1),
    ("tanet.models", 2),
    ("tanet.data", 3),
    ("tanet.checkpoint", 4),
    ("tanet.interop", 5), ("tanet.factory", 5),
    # the package root: the public facade; it imports the layers below the engine, and the engine only inside
    # tanet.predict (test_import_tanet_loads_no_engine keeps `import tanet` light)
    ("tanet", 7.9),
    ("tanet.engine", 6),
    ("tanet.analysis", 7),
    ("tanet.demo", 7.5),
    ("tanet.cli", 8), ("tanet.__main__", 8),
]


def layer_of(module: str) -> float:
    """The layer of the longest registered prefix of a dotted module name."""
    best = max((prefix for prefix, _ in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return dict(LAYERS)[best]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of a tanet module in the file, at any depth."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "tanet"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "tanet":
                # `from tanet.x import y` may name a submodule y
                found += [(node.lineno, f"{target}.{alias.name}" if (target == "tanet" or not node.module)
                           and alias.name != "*" else target) for alias in node.names]
    return found


SOURCES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_a_higher_layer(path):
    importer = module_name(path)
    upward = [f"line {line}: {target} (layer {layer_of(target)})" for line, target in imported_modules(path)
              if layer_of(target) > layer_of(importer)]
    assert not upward, f"{importer} (layer {layer_of(importer)}) imports a higher layer: {upward}"


def test_every_module_has_a_layer():
    for path in SOURCES:
        assert layer_of(module_name(path)) is not None


def _modules_loaded_by(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_tanet_loads_no_engine():
    loaded = _modules_loaded_by("import tanet")
    assert not [m for m in loaded if m.split(".")[:2] in (["tanet", "engine"], ["tanet", "analysis"],
                                                           ["tanet", "demo"], ["tanet", "cli"])]
    assert "yaml" not in loaded


def test_models_load_neither_the_engine_nor_yaml():
    loaded = _modules_loaded_by("import tanet.models")
    assert not [m for m in loaded if m.startswith("tanet.engine") or m.startswith("tanet.cli")]
    assert "yaml" not in loaded and "matplotlib" not in loaded


def test_top_level_help_imports_no_command_module():
    code = "import sys\nfrom tanet.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    loaded = _modules_loaded_by(code)
    commands = [m for m in loaded if m.startswith("tanet.cli.")]
    assert commands == [], commands
    assert not [m for m in loaded if m.startswith("tanet.engine")] and "yaml" not in loaded
