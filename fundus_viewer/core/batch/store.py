"""The maps of a data set in one zarr store (``OUT/maps.zarr``), readable with zarr alone.

Per method an array ``N x h x w`` (float32, the signed map on the analysis grid, NaN where a photo has
no map) and ``transform``, ``N x 7`` (int64: the photo's height and width, then left, top, side, resize,
crop of ``core.transform.InputTransform``, -1 where none), which places a grid on the photo. One chunk
per photo, so processes write different files and a photo redone after a kill overwrites its own.
The attributes say which item each index is (``keys``), the methods, model and thresholds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from fundus_viewer.core.transform import InputTransform
from fundus_viewer.core.visualization.heat import GridMap

TRANSFORM_FIELDS = ("height", "width", "left", "top", "side", "resize", "crop")
STORE_NAME = "maps.zarr"
OpenMode = Literal["r", "r+", "a", "w", "w-"]  # as zarr.open_group takes them


class MapStore:
    def __init__(self, group):
        self.group = group
        self.keys: list[str] = list(group.attrs.get("keys", []))
        self.methods: list[str] = list(group.attrs.get("methods", []))
        self._index = {key: i for i, key in enumerate(self.keys)}

    @classmethod
    def create(cls, folder: Path, keys: list[str], grids: dict[str, tuple[int, int]], attrs: dict) -> MapStore:
        import zarr

        group = zarr.open_group(str(Path(folder) / STORE_NAME), mode="w")
        n = len(keys)
        for name, (h, w) in grids.items():
            group.create_array(name, shape=(n, h, w), chunks=(1, h, w), dtype="float32", fill_value=np.nan)
        group.create_array(
            "transform",
            shape=(n, len(TRANSFORM_FIELDS)),
            chunks=(1, len(TRANSFORM_FIELDS)),
            dtype="int64",
            fill_value=-1,
        )
        group.attrs.update(
            {
                **attrs,
                "keys": list(keys),
                "methods": list(grids),
                "transform_fields": list(TRANSFORM_FIELDS),
                "format": 1,
            }
        )
        return cls(group)

    @classmethod
    def open(cls, folder: Path, mode: OpenMode = "r") -> MapStore:
        import zarr

        return cls(zarr.open_group(str(Path(folder) / STORE_NAME), mode=mode))

    def write(self, indices: list[int], maps: list[dict[str, np.ndarray]], transforms: list[InputTransform]) -> None:
        """Several photos' maps at once (one call per array: zarr writes the chunks concurrently)."""
        if not indices:
            return
        rows = slice(indices[0], indices[-1] + 1) if indices == list(range(indices[0], indices[-1] + 1)) else None
        arrays = {name: np.stack([np.asarray(m[name], dtype=np.float32) for m in maps]) for name in maps[0]}
        arrays["transform"] = np.array([[getattr(t, f) for f in TRANSFORM_FIELDS] for t in transforms], dtype=np.int64)
        for name, values in arrays.items():
            if rows is not None:
                self.group[name][rows] = values
            else:
                self.group[name].oindex[indices] = values

    def index_of(self, key: str) -> int:
        return self._index[key]

    def transform(self, index: int) -> InputTransform | None:
        values = self.group["transform"][index]
        return None if values[0] < 0 else InputTransform(*(int(v) for v in values))

    def grid_map(self, item: int | str, name: str) -> GridMap:
        """One photo's map as the in-process ``GridMap`` (``.full()`` puts it on the photo's grid)."""
        index = self.index_of(item) if isinstance(item, str) else item
        transform = self.transform(index)
        if transform is None:
            raise KeyError(f"no maps for item {self.keys[index]!r} in the store")
        return GridMap(np.asarray(self.group[name][index], dtype=np.float32), transform)
