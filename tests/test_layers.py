"""Layers only point down: utils and config, then data, models, losses and postprocess, then convert, then
engine, then main and benchmarks. Every module's imports, those inside functions too, are read with ast; an
import of a higher layer, of main, or of benchmarks from outside benchmarks fails, and so does any circle of
imports between modules."""
import ast
import os

from tests.conftest import REPO

LAYERS = {"utils": 0, "config": 0, "data": 1, "models": 1, "losses": 1, "postprocess": 1, "convert": 2, "engine": 3,
          "main": 4, "benchmarks": 4}
SKIPPED_DIRS = {".git", "node_modules", "web", "tests", "__pycache__", ".venv"}

# Upward imports that stay for now, each with its reason and owner (none).
ALLOWED = set()


def project_modules():
    """{dotted module name: path} of every module outside tests/."""
    found = {}
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            if name.endswith(".py"):
                parts = os.path.relpath(os.path.join(folder, name), REPO)[:-3].split(os.sep)
                found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = os.path.join(folder, name)
    return found


def imports(path, module, known):
    """The project modules ``module`` imports, anywhere in it (``from pkg import sub`` names the submodule)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return targets - {module}


def graph():
    known = project_modules()
    return {module: {t for t in imports(path, module, known) if t in known} for module, path in known.items()}


def upward(importer, imported):
    """Why ``importer`` may not import ``imported``, or None."""
    low, high = importer.split(".")[0], imported.split(".")[0]
    if low not in LAYERS or high not in LAYERS:
        return None
    if high == "main" or (high == "benchmarks" and low != "benchmarks"):
        return f"{high} is a program, imported by nothing" + (" but benchmarks" if high == "benchmarks" else "")
    if LAYERS[high] > LAYERS[low]:
        return f"{high} is above {low}"
    return None


def circles(edges):
    """The strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_no_module_imports_a_higher_layer():
    found = {(a, b): why for a, targets in graph().items() for b in targets if (why := upward(a, b))}
    assert not {pair: why for pair, why in found.items() if pair not in ALLOWED}, found
    assert not set(ALLOWED) - set(found), "an allowed import is gone: drop it from ALLOWED"


def test_no_import_circles():
    assert circles(graph()) == []


def test_the_checks_see_what_they_should():
    assert upward("data.prior", "engine.config") and upward("benchmarks.refine", "main")
    assert upward("convert.refiner", "engine.infer") and not upward("engine.video", "convert.tflite")
    assert not upward("benchmarks.video", "benchmarks.subjects") and upward("main", "benchmarks.latency")
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    edges = graph()
    assert "convert.converter" in edges["convert.refiner"] and "engine.distribute" in edges["engine.train"]
