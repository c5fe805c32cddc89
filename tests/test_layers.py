"""The library's layers, as its folders show them: each module imports only its own layer and the ones
below it, and nothing imports in a circle."""

import ast
from pathlib import Path

from tests.conftest import REPO

ROOT = REPO
# lowest first; training and corpus share a rank but never import each other
LAYERS: list[tuple[str, ...]] = [
    ("ner.runtime",),
    ("ner.text",),
    ("ner.encoding",),
    ("ner.model",),
    ("ner.inference",),
    ("ner.training", "ner.corpus"),
    ("ner.cli",),
]


def _rank(module: str) -> tuple[int, str] | None:
    for rank, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                return rank, name
    return None


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ner"):
            found += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("ner")]
    return found


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_no_module_imports_a_higher_layer_or_a_sibling() -> None:
    wrong = []
    for path in sorted((ROOT / "ner").rglob("*.py")):
        mine = _rank(_module(path))
        if mine is None:
            continue
        for name in _imports(path):
            theirs = _rank(name)
            if theirs is not None and (
                theirs[0] > mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1])
            ):
                wrong.append(f"{_module(path)} imports {name}")
    assert wrong == []


def test_every_module_of_the_library_sits_in_a_layer() -> None:
    loose = [_module(p) for p in (ROOT / "ner").rglob("*.py") if _rank(_module(p)) is None]
    assert sorted(loose) == ["ner"]  # the package's own __init__, which names the public API lazily


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from ner.inference.tagger import Tagger\nimport ner.corpus.files\n")
    ranks = [_rank(name) for name in _imports(module)]
    assert (4, "ner.inference") in ranks and (5, "ner.corpus") in ranks
