"""Every crafted bad file of tests/bad_files/ against every command that reads its kind of file.

The contract (README, "Reliability"): exit status 1 or 2, no traceback, and a line on stderr that says
``error:`` and names the file (a run over several photos may print its summary after it). The files are
written by each case's ``make``; nothing is committed.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import bad_files
import pytest

PROGRAMS = {"fundus-viewer", "fundus-train"}


def _cases() -> list:
    params = []
    for info in sorted(pkgutil.iter_modules(bad_files.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"bad_files.{info.name}")
        for case in module.CASES:
            for command in case.commands:
                assert command[0] in PROGRAMS, f"{info.name}/{case.id}: {command[0]} is not a program"
                name = " ".join(word for word in command[1:3] if not word.startswith(("-", "{")))
                params.append(pytest.param(case, command, id=f"{info.name}/{case.id}/{name}"))
    return params


def _run(command: tuple[str, ...]) -> int:
    if command[0] == "fundus-train":
        from trainer.cli import main as train_main

        return train_main(list(command[1:]))
    from fundus_viewer.cli.main import main

    return main(list(command[1:]))


@pytest.mark.parametrize(("case", "command"), _cases())
def test_bad_file_is_refused_in_one_line(case, command, tmp_path: Path, capsys):
    bad = case.make(tmp_path)
    argv = tuple(word.replace("{file}", str(bad)).replace("{tmp}", str(tmp_path)) for word in command)
    try:
        code = _run(argv)
    except SystemExit as exc:  # argparse's own usage errors exit 2 through SystemExit
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, f"nothing on stderr; stdout: {out[-500:]}"
    assert code in (1, 2), f"exit {code}: {lines[-1]}"
    # a run over several photos may say a summary after the photo's error line: any line will do
    said = [line for line in lines if "error:" in line and bad.name in line]
    assert said, f"no error line names {bad.name}: {lines[-3:]}"
    assert any(case.says.lower() in line.lower() for line in said), f"expected '{case.says}' in: {said}"
