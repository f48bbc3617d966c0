"""Benchmark: start-up time of the real app, from process launch to its first visible window, against a bare
PySide6 + pyqtgraph window (a QMainWindow holding a GraphicsLayoutWidget with one plot and an ImageItem,
1400x860) launched the same way, in the same run, on the same X server.

"Visible" is seen from outside the process: ``xdotool search --onlyvisible --pid`` is polled every 5 ms
from just before the launch until the child has a mapped window. The two commands alternate (bare, app,
bare, app, ...) after one untimed warm-up launch of each; medians and their ratio are printed. Each child
runs with a throw-away HOME / XDG folders, its settings folder emptied before every launch, so saved
settings (window geometry, recent files) play no part, and is killed once its window is up. With no
$DISPLAY the benchmark starts its own Xvfb (needs the Debian packages xvfb, xdotool and x11-utils).

    python bench/bench_startup.py [--photo PATH] [--repeats 5] [--timeout 60]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.005

BARE_WINDOW = """\
import sys

from PySide6.QtWidgets import QApplication, QMainWindow  # first, so pyqtgraph binds to PySide6
import pyqtgraph as pg

app = QApplication(sys.argv[:1])
window = QMainWindow()
layout = pg.GraphicsLayoutWidget()
layout.addPlot().addItem(pg.ImageItem())
window.setCentralWidget(layout)
window.resize(1400, 860)
window.show()
sys.exit(app.exec())
"""


class LaunchError(RuntimeError):
    pass


def require_tools() -> None:
    missing = [tool for tool in ("Xvfb", "xdotool", "xdpyinfo") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: apt-get install -y xvfb xdotool x11-utils")


def display_answers(display: str, env: dict[str, str]) -> bool:
    probe = subprocess.run(
        ["xdpyinfo", "-display", display], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return probe.returncode == 0


def start_xvfb(timeout: float = 20.0) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a display number it picks itself (-displayfd: no race with another server)."""
    read_end, write_end = os.pipe()
    # not a pipe: Xvfb's warnings over a long run would fill it and stall the server; closed on leaving the
    # block, the server keeps its own descriptor
    with tempfile.TemporaryFile() as log:
        # -noreset: by default the server resets when its last client leaves and refuses the next one meanwhile
        server = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24", "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_end,),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        os.close(write_end)
        with os.fdopen(read_end) as announced:
            number = announced.readline().strip()  # written once the server is up; empty if it died
        if not number:
            server.kill()
            server.wait()
            log.seek(0)
            raise LaunchError(f"Xvfb did not start: {log.read().decode(errors='replace')[-2000:]}")
    display = f":{number}"
    end = time.perf_counter() + timeout
    while not display_answers(display, dict(os.environ, DISPLAY=display)):
        if time.perf_counter() > end or server.poll() is not None:
            server.kill()
            raise LaunchError(f"Xvfb on {display} does not accept connections")
        time.sleep(0.05)
    return server, display


def child_env(display: str, home: Path) -> dict[str, str]:
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", HOME=str(home))
    env.pop("WAYLAND_DISPLAY", None)  # Qt would prefer Wayland, where xdotool sees nothing
    # an installed app has its bytecode (pip compiles it); a source checkout gets it from the warm-up run
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env[name] = str(home / name.lower())
    env["XDG_RUNTIME_DIR"] = str(home / "runtime")
    return env


def fresh_home(home: Path) -> None:
    # settings from an earlier launch must not restore geometry or reopen files; caches (fontconfig) may stay
    shutil.rmtree(home / "xdg_config_home", ignore_errors=True)
    for name in ("xdg_config_home", "xdg_cache_home", "xdg_data_home", "xdg_state_home"):
        (home / name).mkdir(parents=True, exist_ok=True)
    (home / "runtime").mkdir(mode=0o700, exist_ok=True)


def visible_window(pid: int, env: dict[str, str]) -> bool:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--pid", str(pid)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return found.returncode == 0 and bool(found.stdout.split())


def stop(child: subprocess.Popen) -> None:
    """terminate, kill after 5 s; the whole process group, in case the app started helpers."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        try:
            child.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def time_to_window(name: str, command: list[str], env: dict[str, str], home: Path, timeout: float) -> float:
    fresh_home(home)
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty child can't block on a full pipe
        started = time.perf_counter()
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        try:
            while True:
                tick = time.perf_counter()
                if visible_window(child.pid, env):
                    # the query returned after the window was mapped: an upper bound, late by < one query
                    return time.perf_counter() - started
                if child.poll() is not None:
                    problem = f"exited with code {child.returncode} before showing a window"
                    break
                if tick - started > timeout:
                    problem = f"showed no window within {timeout:g} s"
                    break
                time.sleep(max(0.0, POLL_S - (time.perf_counter() - tick)))
        finally:
            stop(child)
        errors.seek(0)
        tail = errors.read().decode(errors="replace")[-3000:].strip() or "(empty)"
    raise LaunchError(f"{name} {problem}\n  command: {' '.join(command)}\n  stderr tail:\n{tail}")


def summary(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default=str(ROOT / "resources" / "samples" / "HRF_01_g.jpg"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each window")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    photo = Path(args.photo).resolve()
    if not photo.is_file():
        sys.exit(f"no such photo: {photo}")
    require_tools()

    server = None
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as scratch:
        scratch = Path(scratch)
        bare_script = scratch / "bare_window.py"
        bare_script.write_text(BARE_WINDOW)
        home = scratch / "home"
        try:
            display = os.environ.get("DISPLAY")
            if not display:
                server, display = start_xvfb()
            env = child_env(display, home)
            if not display_answers(display, env):
                raise LaunchError(f"cannot connect to the X display {display}")
            commands = {
                "bare PySide6 + pyqtgraph window": [sys.executable, str(bare_script)],
                f"fundus-viewer {photo.name}": [sys.executable, "-m", "fundus_viewer", str(photo)],
            }
            times: dict[str, list[float]] = {name: [] for name in commands}
            print(
                f"display {display}{' (own Xvfb)' if server else ''}; {args.repeats} alternating runs after a warm-up",
                flush=True,
            )
            for round_ in range(args.repeats + 1):  # round 0 warms the file cache and is not counted
                for name, command in commands.items():
                    seconds = time_to_window(name, command, env, home, args.timeout)
                    if round_:
                        times[name].append(seconds)
        except LaunchError as error:
            print(f"FAILED: {error}", file=sys.stderr)
            return 1
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(5)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()

    bare, app = times.values()
    for name, runs in times.items():
        print(f"{name}: {summary(runs)}")
    print(f"ratio app / bare: {statistics.median(app) / statistics.median(bare):.2f} (goal <= 1.2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
