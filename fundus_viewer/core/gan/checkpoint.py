"""Generator checkpoints: safetensors weights and the GanSpec (with the classifier and segmenter it
was trained against) in one file, like every Fundus Viewer model."""

from __future__ import annotations

from pathlib import Path

from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.gan.networks import GanSpec, Generator
from fundus_viewer.core.models.checkpoint import load_weights, read_checkpoint, write_checkpoint
from fundus_viewer.core.resources import models_dir

KIND = "fundus-viewer/patho-gan"  # titled in models.checkpoint.KIND_TITLES
DEFAULT_NAMES = {"patho-gan": "patho-gan.safetensors", "baseline": "gan-baseline.safetensors"}


def default_generator_path(which: str = "patho-gan") -> Path:
    return models_dir() / DEFAULT_NAMES[which]


def save_generator(generator: Generator, path, half: bool = False) -> Path:
    return write_checkpoint(path, KIND, generator.network, generator.spec.to_dict(), half=half)


def load_generator(path=None, device="cpu", which: str = "patho-gan") -> Generator:
    path = Path(path) if path is not None else default_generator_path(which)
    if not path.exists():
        hint = (
            f" (no bundled {which} generator; train one with `fundus-train gan` or pass --model)"
            if path == default_generator_path(which)
            else ""
        )
        raise CheckpointError(f"{path}: no such model file{hint}")
    spec_dict, tensors = read_checkpoint(path, KIND)
    generator = Generator(GanSpec.from_dict(spec_dict))
    load_weights(generator.network, tensors, path, "Patho-GAN generator")
    return generator.eval().requires_grad_(False).to(device)
