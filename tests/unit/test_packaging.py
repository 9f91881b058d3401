"""pyproject.toml is the one source of dependencies; environment.yml only wraps it."""

import re
import tomllib

import yaml

from scalelab import __version__


def _load(repo_root):
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    return pyproject["project"], env


def test_environment_yml_wraps_pyproject(repo_root):
    project, env = _load(repo_root)
    deps = env["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]
    # the conda python must satisfy requires-python (">=3.X")
    minimum = tuple(map(int, re.match(r">=\s*(\d+)\.(\d+)", project["requires-python"]).groups()))
    assert (3, 11) >= minimum
    assert "pip" in deps
    pip = [d for d in deps if isinstance(d, dict)]
    assert len(pip) == 1 and pip[0]["pip"] == ["-e .[book,dev]"]
    # every extra named there exists, and nothing else is pinned in environment.yml
    assert {"book", "dev"} <= set(project["optional-dependencies"])
    assert {d for d in deps if isinstance(d, str)} == {"python=3.11", "pip"}


def test_pyproject_dependencies(repo_root):
    project, _ = _load(repo_root)
    names = {re.split(r"[<>=\[ ;]", d)[0].lower() for d in project["dependencies"]}
    assert {"torch", "numpy", "scipy", "matplotlib", "pandas", "tqdm", "lion-pytorch"} <= names
    assert "torch>=2.11,<2.14" in project["dependencies"]
    extras = project["optional-dependencies"]
    assert {"book", "dev", "data", "dist"} <= set(extras)
    assert any(d.startswith("jupyter-book") and "<2" in d for d in extras["book"])
    # mup is installed by `make install` with --no-deps; it must not appear as a dependency
    assert not any(d.lower().startswith("mup") for group in extras.values() for d in group)


def test_version_is_single_sourced(repo_root):
    project, _ = _load(repo_root)
    assert "version" in project.get("dynamic", [])
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
