"""Packaging and layering rules, checked rather than remembered."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_python_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top in ("fundus_viewer", "trainer"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    for folder in [ROOT / "resources", *[p for p in (ROOT / "resources").rglob("*") if p.is_dir()]]:
        found.add(".".join(("fundus_viewer",) + folder.relative_to(ROOT).parts))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_bundled_resources_are_found():
    from fundus_viewer.core.resources import samples_dir

    names = {p.name for p in samples_dir().iterdir()}
    assert "ATTRIBUTION.md" in names and any(n.endswith(".jpg") for n in names)


def test_import_linter_contracts_hold():
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_core_and_cli_tools_never_load_qt_at_run_time():
    code = (
        "import sys, pkgutil, importlib, fundus_viewer.core as core, trainer.cli\n"
        "for m in pkgutil.walk_packages(core.__path__, 'fundus_viewer.core.'): importlib.import_module(m.name)\n"
        "import fundus_viewer.cli.classify, fundus_viewer.cli.heatmap, fundus_viewer.cli.evaluate\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt') "
        "or m.startswith('fundus_viewer.gui')])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_wheel_carries_the_resources(tmp_path):
    """`pip install .` (not only -e) must bring the models folder and the samples."""
    import zipfile

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [wheel] = tmp_path.glob("fundus_viewer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "fundus_viewer/resources/samples/ATTRIBUTION.md" in names
    assert "fundus_viewer/resources/models/README.md" in names
    assert any(n.startswith("fundus_viewer/resources/samples/") and n.endswith(".jpg") for n in names)
    assert any(n.startswith("trainer/") for n in names)
