"""What a data-set run does with each batch: heat maps (``HeatmapTask``), the glaucoma call
(``ClassifyTask``) and vessel maps (``VesselTask``). Each turns prepared photos into summary rows and
writes its outputs; the runner records the rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fundus_viewer.core.batch.outputs import discard, incomplete, photo_files
from fundus_viewer.core.batch.store import STORE_NAME, MapStore


def call_row(model, probability: float, ood=None, measured=None) -> dict:
    """The columns ``classify`` gives a photo: calibrated P(glaucoma), the call at the model's threshold,
    the OOD score and flag where the model has a bank, and the vertical CDR where it was measured
    (None where no disc was found: no ratio, rather than a 0.00 that reads as a healthy disc)."""
    names = model.spec.class_names
    other = next((n for i, n in enumerate(names) if i != model.glaucoma_index), "normal")
    row = {
        "probability_glaucoma": round(float(probability), 6),
        "prediction": names[model.glaucoma_index] if model.calls_glaucoma(probability) else other,
        "threshold": round(model.calibration.threshold, 6),
    }
    if ood is not None:
        row.update(ood_score=round(ood.score, 6), ood_threshold=round(ood.threshold, 6), ood_flag=ood.flagged)
    if measured is not None:
        row["vertical_cdr"] = (
            round(measured.vcdr, 3) if measured.disc is not None and not math.isnan(measured.vcdr) else None
        )
        row["disc_found"] = measured.disc is not None
    return row


def _inputs(batch, device):
    import torch

    pixels = np.stack([p.pixels for p in batch])
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255.0).to(device)


def checkpoint_identity(model) -> dict | None:
    """A model as a resumed run must find it again: its file's SHA-256 (the same weights under another
    path are the same model; other weights at the same path are not)."""
    from fundus_viewer.core.digest import file_sha256

    if model is None:
        return None
    path = getattr(model, "checkpoint_path", None)
    return {"sha256": file_sha256(path) if path else None, "name": Path(path).name if path else type(model).__name__}


def output_stem(index: int, key: str) -> str:
    """An output file's name: the item's index (unique, so no two photos share a file) and a readable
    part of its key (sub-folders joined by ``__``, ``.frameN`` for a frame), portable on every system."""
    path, sep, frame = key.partition("#")
    base = path.replace("\\", "/").strip("/")
    leaf = base.rsplit("/", 1)[-1]
    if "." in leaf and not leaf.startswith("1.") and len(leaf.rsplit(".", 1)[1]) <= 5:
        base = base[: base.rfind(".")]  # the suffix, not a UID's last component
    return f"{index:06d}-{portable_name(base)}" + (f".frame{frame}" if sep else "")


def portable_name(text: str, limit: int = 120) -> str:
    """``text`` as part of a file name on every system: sub-folders joined by ``__``, other characters
    than letters, digits, ``-_.`` as ``_``, at most ``limit`` bytes in UTF-8 (names stop at 255)."""
    readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in text.replace("/", "__"))
    return readable.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


class ClassifyTask:
    name = "classify"
    columns = [
        "probability_glaucoma",
        "prediction",
        "threshold",
        "ood_score",
        "ood_threshold",
        "ood_flag",
        "vertical_cdr",
        "disc_found",
    ]

    def __init__(self, model, device, cup_disc=None, amp: bool = False):
        self.model, self.device, self.cup_disc, self.amp = model.eval(), device, cup_disc, amp
        self.spec = model.spec
        self.keep_photo = cup_disc is not None

    def settings(self) -> dict:
        return {
            "model": checkpoint_identity(self.model),
            "cup_disc": checkpoint_identity(self.cup_disc),
            "amp": self.amp and self.device.type == "cuda",
        }

    def exists(self, out: Path) -> bool:
        return True

    def missing(self, indices: list[int]) -> set[int]:
        """Of these recorded photos, those whose outputs are not (or no longer) all there."""
        return set()

    def discard(self, indices: list[int]) -> None:
        """Remove what these photos' files an earlier attempt left (they are about to be redone)."""

    def create(self, out: Path, keys: list[str]) -> None:
        pass

    def open(self, out: Path) -> None:
        pass

    def process(self, batch) -> list[dict]:
        import torch

        from fundus_viewer.core.cup_disc import measure_cup_disc
        from fundus_viewer.core.ood import pooled_features

        x = _inputs(batch, self.device)
        autocast = torch.autocast(
            device_type=self.device.type, dtype=torch.float16, enabled=self.amp and self.device.type == "cuda"
        )
        with torch.no_grad(), pooled_features(self.model) as pooled, autocast:
            logits = self.model(x).float()
        probabilities = self.model.glaucoma_probability(logits).cpu().tolist()
        ood = self.model.ood_scores(pooled.get("features"))
        return [
            call_row(
                self.model,
                probabilities[i],
                ood[i] if ood else None,
                measure_cup_disc(self.cup_disc, p.photo) if self.cup_disc is not None else None,
            )
            for i, p in enumerate(batch)
        ]


class HeatmapTask(ClassifyTask):
    """The pathology-aware pair in one batched pass, baselines photo by photo, into ``maps.zarr``;
    full-resolution .npy / PNG per photo only with ``full_maps``."""

    name = "heatmap"

    def __init__(
        self,
        visualizer,
        methods,
        thresholds,
        cup_disc=None,
        amp: bool = False,
        full_maps: bool = False,
        colormap: str = "inferno",
    ):
        super().__init__(visualizer.model, visualizer.device, cup_disc, amp)
        self.visualizer, self.methods, self.thresholds = visualizer, tuple(methods), thresholds
        self.full_maps, self.colormap = full_maps, colormap
        self.keep_photo = cup_disc is not None or full_maps
        self.columns = self.columns + ["maps_kept"]
        self.store: MapStore | None = None

    def settings(self) -> dict:
        from dataclasses import asdict

        return {
            **super().settings(),
            "methods": list(self.methods),
            "thresholds": asdict(self.thresholds),
            "layers": list(self.visualizer.layers),
            "full_maps": self.colormap if self.full_maps else False,
        }

    def exists(self, out: Path) -> bool:
        return (Path(out) / STORE_NAME / "zarr.json").exists()

    def missing(self, indices: list[int]) -> set[int]:
        if not indices:
            return set()
        transforms = self._open_store().group["transform"][:, 0]  # -1: the row was written, its chunks were not
        gone = {i for i in indices if transforms[i] < 0}
        return gone | (incomplete(self.out / "full", indices, self._full_endings()) if self.full_maps else set())

    def discard(self, indices: list[int]) -> None:
        if self.full_maps:
            discard(self.out / "full", indices)

    def _full_endings(self) -> list[str]:
        """What each photo's files in ``full/`` end with: every map's .npy and PNG, and the sidecar."""
        names = [n for m in self.methods for n in (("pathology-rl", "pathology-rnfld") if m == "pathology" else (m,))]
        return [f".{name}.{kind}" for name in names for kind in ("npy", "png")] + [".maps.json"]

    def create(self, out: Path, keys: list[str]) -> None:
        from dataclasses import asdict

        from fundus_viewer.core.visualization.maps import describe_model

        grids = {name: grid.shape for name, grid in self._grids(self._blank()).items()}
        MapStore.create(
            out,
            keys,
            grids,
            {
                "model": describe_model(self.model, self.visualizer.layers),
                "thresholds": asdict(self.thresholds),
                "note": (
                    "signed maps on the analysis grid; "
                    "GridMap(grid, InputTransform(*transform[i])).full() is the photo's map"
                ),
            },
        )

    def open(self, out: Path) -> None:
        self.out = Path(out)
        self.store = MapStore.open(out, mode="r+")

    def _open_store(self) -> MapStore:
        if self.store is None:
            raise RuntimeError("the map store is not open: call open(out) first")
        return self.store

    def _blank(self):
        import torch

        size = self.model.spec.input_size
        return torch.zeros(1, 3, size, size, device=self.device)

    def _grids(self, x) -> dict[str, np.ndarray]:
        """Every method's grid for photo 0 of ``x`` (used on a blank input to size the store)."""
        return self._batch_grids(x, [None])[0]

    def _batch_grids(self, x, transforms) -> list[dict[str, np.ndarray]]:
        from fundus_viewer.core.visualization.baselines import baseline_map

        grids: list[dict[str, np.ndarray]] = [{} for _ in range(len(x))]
        self._analysis, self._notes = None, {}
        if "pathology" in self.methods:
            self._analysis = self.visualizer.analyze_batch(
                x, self.thresholds, amp=self.amp and self.device.type == "cuda"
            )
            for i in range(len(x)):
                grids[i]["pathology-rl"] = self._analysis.signed["rl"][i]
                grids[i]["pathology-rnfld"] = self._analysis.signed["rnfld"][i]
        for method in self.methods:
            if method != "pathology":
                for i in range(len(x)):
                    made = baseline_map(method, self.model, x[i : i + 1], transforms[i])
                    grids[i][method], self._notes[method] = made.map.grid, made.note
        return grids

    def process(self, batch) -> list[dict]:
        import torch

        from fundus_viewer.core.cup_disc import measure_cup_disc
        from fundus_viewer.core.visualization.pathology import counts_text

        x = _inputs(batch, self.device)
        grids = self._batch_grids(x, [p.transform for p in batch])
        analysis = self._analysis
        if analysis is None:  # baselines only: the call still comes from one forward
            with torch.no_grad():
                logits = self.model(x).float()
            probabilities, ood, counts = self.model.glaucoma_probability(logits).cpu().tolist(), None, None
        else:
            probabilities, ood, counts = analysis.probabilities, analysis.ood, analysis.counts
        self._open_store().write([p.index for p in batch], grids, [p.transform for p in batch])
        rows = []
        for i, p in enumerate(batch):
            if self.full_maps:
                self._write_full(p, grids[i], analysis, probabilities[i], counts[i] if counts else None)
            measured = measure_cup_disc(self.cup_disc, p.photo) if self.cup_disc is not None else None
            row = call_row(self.model, probabilities[i], ood[i] if ood else None, measured)
            row["maps_kept"] = counts_text(counts[i]) if counts else ""
            rows.append(row)
        return rows

    def _write_full(self, p, grids, analysis, probability, counts) -> None:
        from fundus_viewer.core.visualization.heat import GridMap
        from fundus_viewer.core.visualization.maps import PhotoMaps, describe_model, write_maps
        from fundus_viewer.core.visualization.pathology import counts_text

        folder = self.out / "full"
        folder.mkdir(exist_ok=True)
        result = PhotoMaps(
            p.photo,
            {name: GridMap(grid, p.transform) for name, grid in grids.items()},
            self.thresholds,
            None,
            dict(self._notes),
            describe_model(self.model, self.visualizer.layers),
            counts_text(counts) if counts else "",
            probability,
        )
        stem = output_stem(p.index, p.item.key)
        with photo_files(folder, stem, last=".maps.json") as staging:  # the photo's set whole or not at all
            write_maps(result, staging, self.colormap, stem=stem)


class VesselTask:
    """Vessel probability and mask PNGs on each photo's grid (``OUT/vessels/``), the vessel share per row."""

    name = "segment-vessels"
    columns = ["vessel_fraction", "probability_png", "mask_png"]
    spec = None
    keep_photo = True

    def __init__(self, model):
        self.model = model

    def settings(self) -> dict:
        return {"model": checkpoint_identity(self.model)}

    def exists(self, out: Path) -> bool:
        return (Path(out) / "vessels").is_dir()

    def missing(self, indices: list[int]) -> set[int]:
        return incomplete(self.out, indices, (".vessels-prob.png", ".vessels-mask.png"))

    def discard(self, indices: list[int]) -> None:
        discard(self.out, indices)

    def create(self, out: Path, keys: list[str]) -> None:
        (Path(out) / "vessels").mkdir(parents=True, exist_ok=True)

    def open(self, out: Path) -> None:
        self.out = Path(out) / "vessels"

    def process(self, batch) -> list[dict]:
        from fundus_viewer.core.overlay import write_png
        from fundus_viewer.core.vessels import segment_vessels

        rows = []
        for p in batch:
            probability = segment_vessels(self.model, p.photo.image)
            mask = probability >= self.model.spec.threshold
            stem = output_stem(p.index, p.item.key)
            with photo_files(self.out, stem, last=".vessels-mask.png") as staging:  # both PNGs or neither
                write_png(staging / f"{stem}.vessels-prob.png", np.rint(probability * 255).astype(np.uint8))
                write_png(staging / f"{stem}.vessels-mask.png", np.where(mask, 255, 0).astype(np.uint8))
            rows.append(
                {
                    "vessel_fraction": round(float(mask.mean()), 6),
                    "probability_png": f"vessels/{stem}.vessels-prob.png",
                    "mask_png": f"vessels/{stem}.vessels-mask.png",
                }
            )
        return rows
