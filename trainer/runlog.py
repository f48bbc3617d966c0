"""What every training run leaves behind: a CSV log (one row per epoch or step) and a PNG of the curves."""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path

from fundus_viewer.core.atomic import atomic_write


class RunLog:
    def __init__(self, path: Path, fields: list[str], resume: bool) -> None:
        self.path, self.fields = path, fields
        if not resume or not path.exists():
            with path.open("w", newline="") as stream:
                csv.writer(stream).writerow(fields)

    def append(self, row: dict[str, object]) -> None:
        with self.path.open("a", newline="") as stream:
            csv.writer(stream).writerow([_cell(row.get(f, "")) for f in self.fields])
            stream.flush()

    def rows(self) -> list[dict[str, str]]:
        with self.path.open(newline="") as stream:
            return list(csv.DictReader(stream))

    def truncate_after(self, step: int, key: str = "epoch") -> None:
        """After a resume, forget rows logged past the checkpoint (the killed run's tail)."""
        kept = [r for r in self.rows() if int(float(r[key])) <= step]
        with self.path.open("w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(kept)


def _cell(value: object) -> object:
    return f"{value:.6g}" if isinstance(value, float) else value


def plot_curves(log: RunLog, out: Path, x: str, panels: list[tuple[str, list[str]]]) -> None:
    """One panel per (title, columns); matplotlib's Agg backend, so no display or Qt is needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = log.rows()
    if not rows:
        return
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6))
    axes = axes if len(panels) > 1 else [axes]
    xs = [float(r[x]) for r in rows]
    for axis, (title, columns) in zip(axes, panels, strict=True):  # one axis per panel
        for column in columns:
            ys = [float(r[column]) if r.get(column) not in ("", None) else float("nan") for r in rows]
            axis.plot(xs, ys, label=column)
        axis.set_title(title)
        axis.set_xlabel(x)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    atomic_write(out, partial(figure.savefig, format="png", dpi=110))
    plt.close(figure)
