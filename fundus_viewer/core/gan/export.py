"""Writing synthetic photos: the vessel map they were drawn from, each photo at the generator's
resolution, the classifier's maps on it (.npy and overlay PNG) and a JSON sidecar naming the seed, the
generators (and their SHA-256), the source photo and every P(glaucoma). The Synthesize view's Save and
``fundus-viewer synthesize`` write through here.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fundus_viewer import __version__
from fundus_viewer.core.atomic import atomic_write
from fundus_viewer.core.overlay import overlay, write_png
from fundus_viewer.core.visualization.maps import checkpoint_sha256, photo_record, save_npy
from fundus_viewer.core.visualization.selection import DEFAULT_THRESHOLDS, Thresholds

if TYPE_CHECKING:
    from fundus_viewer.core.gan.compare import SynthesisComparison

SIDECAR_FORMAT = "fundus-viewer-synthesis/1"


def write_vessel_map(folder: Path, stem: str, vessels: np.ndarray) -> Path:
    """STEM.vessels.png: the vessel probabilities (0-1) as grey levels."""
    return write_png(folder / f"{stem}.vessels.png", np.round(np.clip(vessels, 0, 1) * 255).astype(np.uint8))


def slug(name: str) -> str:
    """A generator's name as a file name part: "Patho-GAN" -> "patho-gan"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "generator"


def synthesis_files(comparison: SynthesisComparison) -> dict[str, str]:
    """What ``write_synthesis`` names each file (before the folder), by role: "vessels", "sidecar", and per
    synthetic photo "<slug>" (the photo), "<slug>.rl" / "<slug>.rnfld" (.npy; the overlay is the .png)."""
    stem, seed = Path(comparison.pair.name).stem, comparison.seed
    names = {"vessels": f"{stem}.vessels.png", "sidecar": f"{stem}.synthesis.seed-{seed}.json"}
    for r in comparison.synthetic:
        base = f"{stem}.{slug(r.name)}.seed-{seed}"
        names[slug(r.name)] = f"{base}.png"
        for key in ("rl", "rnfld"):
            names[f"{slug(r.name)}.{key}"] = f"{base}.{key}.npy"
    return names


def write_synthesis(
    comparison: SynthesisComparison,
    folder: str | Path,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    colormap: str = "inferno",
    opacity: float = 0.6,
) -> list[Path]:
    """Every file of ``synthesis_files`` into ``folder``, each atomically and the sidecar last, so a set
    with its sidecar is whole. On a failed write (a full disk, no permission) the files this call wrote
    are removed again and the ``OSError`` is raised, naming the file."""
    folder = Path(folder)
    names = synthesis_files(comparison)
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written.append(write_vessel_map(folder, Path(comparison.pair.name).stem, comparison.pair.vessels))
        records = []
        for r in comparison.synthetic:
            written.append(write_png(folder / names[slug(r.name)], r.image))
            maps = {}
            for key, grid_map in r.maps(thresholds).items():
                heat = grid_map.full()
                npy = folder / names[f"{slug(r.name)}.{key}"]
                save_npy(npy, heat)
                written.append(npy)
                picture = overlay(r.image, heat, colormap, opacity, extent=grid_map.extent)
                written.append(write_png(npy.with_suffix(".png"), picture))
                maps[key] = {"npy": npy.name, "overlay": npy.with_suffix(".png").name, "extent": list(grid_map.extent)}
            records.append(
                {
                    "name": r.name,
                    "file": names[slug(r.name)],
                    "size": list(r.image.shape[:2]),
                    "checkpoint": r.generator,
                    "sha256": checkpoint_sha256(r.generator),
                    "probability_glaucoma": round(r.probability, 6),
                    "classifier_input": list(_square(r)),
                    "maps": maps,
                }
            )
        real = comparison.real
        record = {
            "format": SIDECAR_FORMAT,
            "written_by": f"fundus-viewer {__version__}",
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed": comparison.seed,
            "source_photo": photo_record(real.analysis.image),
            "classifier": {"checkpoint": comparison.classifier, "sha256": checkpoint_sha256(comparison.classifier)},
            "real": {"probability_glaucoma": round(real.probability, 6), "classifier_input": list(_square(real))},
            "vessels": names["vessels"],
            "generators": records,
            "thresholds": asdict(thresholds),
            "colormap": colormap,
            "opacity": opacity,
        }
        written.append(atomic_write(folder / names["sidecar"], json.dumps(record, indent=1)))
    except OSError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def _square(rendition) -> tuple[int, int, int]:
    """(left, top, side) of the square the classifier saw, in the rendition's own pixels."""
    t = rendition.analysis.transform
    return t.left, t.top, t.side
