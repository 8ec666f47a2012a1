"""The package is grouped by layer and its imports point one way (issue 13, item 8): a module
imports only from its own layer or the layers below it, so the layout shows the pipeline
model -> solving -> analysis -> outputs -> interfaces."""

import ast
from pathlib import Path

import optimizer

LAYERS = ["model", "solving", "analysis", "outputs", "interfaces"]
ROOT = Path(optimizer.__file__).parent


def imported_layers(path: Path) -> set[str]:
    """The package layers a module imports from (relative and absolute imports, lazy ones too)."""
    layer = path.parent.name
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                out.add(layer)
            elif node.level == 2 and node.module:
                out.add(node.module.split(".")[0])
            elif node.level == 0 and node.module and node.module.startswith("optimizer."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("optimizer.")}
    return out


def test_every_module_sits_in_a_layer():
    loose = sorted(p.name for p in ROOT.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "errors.py"))
    assert loose == [], f"modules outside the layers: {loose}"
    for layer in LAYERS:
        assert (ROOT / layer / "__init__.py").is_file()


def test_imports_point_down_the_pipeline():
    wrong = []
    for layer in LAYERS:
        rank = LAYERS.index(layer)
        for path in sorted((ROOT / layer).glob("*.py")):
            for other in imported_layers(path) - {"errors"}:
                if other not in LAYERS:
                    wrong.append(f"{layer}/{path.name} imports optimizer.{other}, which is no layer")
                elif LAYERS.index(other) > rank:
                    wrong.append(f"{layer}/{path.name} imports from {other}, a layer above it")
    assert not wrong, "\n".join(wrong)
