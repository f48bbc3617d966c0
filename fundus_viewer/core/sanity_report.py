"""The randomisation test's outputs: a table (text and CSV), JSON, and per method the figure of Adebayo
et al. (the first photo's map at each cascade step, and the mean similarity against the step)."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from pathlib import Path

import numpy as np

from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.jsonsafe import json_safe
from fundus_viewer.core.sanity import SanityResult, bounding_slices


def format_table(result: SanityResult) -> str:
    lines = [
        f"{'method':<16}{'measure':<10}" + "".join(f"{i:>8}" for i in range(len(result.steps))),
        "steps: " + "; ".join(f"{i} {s}" for i, s in enumerate(result.steps)),
    ]
    lines.insert(1, "")
    for method in result.spearman:
        for measure in ("spearman", "ssim"):
            lines.insert(
                -1,
                f"{method:<16}{measure:<10}"
                + "".join(f"{v:>8.3f}" if math.isfinite(v) else f"{'-':>8}" for v in result.mean(measure, method)),
            )
    return "\n".join(lines)


def write_outputs(result: SanityResult, out: Path, photos: list[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "steps": result.steps,
        "photos": photos,
        "methods": {
            m: {
                "spearman_mean": result.mean("spearman", m),
                "ssim_mean": result.mean("ssim", m),
                "spearman": result.spearman[m],
                "ssim": result.ssim[m],
            }
            for m in result.spearman
        },
    }
    atomic_write(out / "sanity.json", json.dumps(json_safe(summary), indent=1))
    with io.StringIO() as stream:
        writer = csv.writer(stream)
        writer.writerow(
            ["method", "step", "layers_reinitialised_down_to", "spearman_mean", "ssim_mean", "photos_with_heat"]
        )
        for m in result.spearman:
            counts = np.isfinite(np.array(result.spearman[m], dtype=float)).sum(axis=0)
            for i, (step, rho, ssim) in enumerate(
                zip(result.steps, result.mean("spearman", m), result.mean("ssim", m), strict=True)
            ):
                writer.writerow([m, i, step, f"{rho:.4f}", f"{ssim:.4f}", int(counts[i])])
        atomic_write(out / "sanity.csv", stream.getvalue())
    return [out / "sanity.json", out / "sanity.csv", *write_figures(result, out)]


def write_figures(result: SanityResult, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    steps = len(result.steps)
    for method, maps in result.maps.items():
        fig = plt.figure(figsize=(1.6 * steps, 4.2), dpi=110)
        grid = fig.add_gridspec(2, steps, height_ratios=[1, 1.1])
        crop = bounding_slices(
            np.any([m > 0 for m in maps], axis=0)
        )  # the part any map has heat in: a disc-centred model sees a small square
        for i, heat in enumerate(maps):
            ax = fig.add_subplot(grid[0, i])
            ax.imshow(heat[crop], cmap="inferno", vmin=0, vmax=max(float(heat.max()), 1e-6))
            ax.set_title("trained" if i == 0 else f"-{i}", fontsize=8)
            ax.axis("off")
        ax = fig.add_subplot(grid[1, :])
        ax.plot(range(steps), result.mean("spearman", method), "o-", label="Spearman rank correlation")
        ax.plot(range(steps), result.mean("ssim", method), "s-", label="SSIM")
        ax.set_ylim(-1.05, 1.05)  # a randomised map can be anti-correlated
        ax.set_xticks(range(steps))
        ax.set_xticklabels([s.split(" .. ")[-1] for s in result.steps], rotation=30, fontsize=7, ha="right")
        ax.set_xlabel("re-initialised from the top down to this layer")
        ax.set_ylabel("similarity to the trained map")
        ax.legend(frameon=False, fontsize=8)
        fig.suptitle(f"{method}: cascading randomisation (Adebayo et al. 2018)", fontsize=10)
        fig.tight_layout()
        path = out / f"sanity-{method}.png"
        atomic_write(path, functools.partial(fig.savefig, format="png"))
        plt.close(fig)
        written.append(path)
    return written
