"""Every third-party package the code imports is declared: what the tool runs with in requirements.txt (the
Docker image's), what only the tests need in requirements-dev.txt, the optional extras in their own files."""
import ast
import importlib.metadata
import os
import re
import sys

from tests.conftest import REPO

RUNTIME, DEV = "requirements.txt", "requirements-dev.txt"
OPTIONAL = ("requirements-mediapipe.txt", "requirements-web.txt")
SKIPPED_DIRS = {".git", "node_modules", "web", "__pycache__", ".venv"}


def declared(name):
    """The normalized distribution names a requirements file lists."""
    with open(os.path.join(REPO, name)) as f:
        lines = [line.split("#")[0].strip() for line in f]
    return {normalized(re.split(r"[<>=!~\[;\s]", line)[0]) for line in lines if line and not line.startswith("-")}


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def modules(tests):
    """Paths of the project's own modules: those under tests/ when ``tests``, else the rest."""
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        in_tests = os.path.relpath(folder, REPO).split(os.sep)[0] == "tests"
        yield from (os.path.join(folder, f) for f in files if f.endswith(".py") and in_tests == tests)


def third_party(paths):
    """{distribution (normalized; the import name where none is installed): a module importing it}."""
    local = {os.path.splitext(name)[0] for name in os.listdir(REPO)}
    distributions = importlib.metadata.packages_distributions()
    found = {}
    for path in paths:
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for top in {n.split(".")[0] for n in names} - local - set(sys.stdlib_module_names):
                for dist in distributions.get(top, [top]):
                    found.setdefault(normalized(dist), os.path.relpath(path, REPO))
    return found


def test_runtime_imports_are_in_requirements():
    optional = set().union(*(declared(name) for name in OPTIONAL))
    missing = {dist: path for dist, path in third_party(modules(tests=False)).items()
               if dist not in declared(RUNTIME) | optional}
    assert not missing, f"imported but not in {RUNTIME}: {missing}"


def test_test_imports_are_declared_and_the_runner_stays_out_of_the_image():
    everything = declared(RUNTIME) | declared(DEV) | set().union(*(declared(name) for name in OPTIONAL))
    missing = {dist: path for dist, path in third_party(modules(tests=True)).items() if dist not in everything}
    assert not missing, f"imported by tests but declared nowhere: {missing}"
    assert {"pytest", "pytest-xdist"} <= declared(DEV) and not {"pytest", "pytest-xdist"} & declared(RUNTIME)
