"""Generator checkpoints: safetensors weights and the GanSpec (with the classifier and segmenter it
was trained against) in one file, like every Fundus Viewer model."""

from __future__ import annotations

from pathlib import Path

from fundus_viewer.core.errors import CheckpointError
from fundus_viewer.core.gan.networks import GanSpec, Generator
from fundus_viewer.core.models.checkpoint import build_checked, read_checkpoint, write_checkpoint
from fundus_viewer.core.models.spec import Between, Limit, OneOf
from fundus_viewer.core.resources import models_dir

KIND = "fundus-viewer/patho-gan"  # titled in models.checkpoint.KIND_TITLES
DEFAULT_NAMES = {"patho-gan": "patho-gan.safetensors", "baseline": "gan-baseline.safetensors"}


# Bounds of a generator's spec: its U-Net as the segmenters' (base 128 at depth 6: 8192 channels, the
# most), photos of 16 to 2048 px (a multiple of 2 ** gen_depth), weights that are not a number refused.
LIMITS: dict[str, Limit] = {
    "size": Between(16, 2048),
    "gen_base": Between(1, 128),
    "gen_depth": Between(1, 6),
    "noise_channels": Between(0, 64),
    "noise_sigma": Between(0.0, 10.0),
    "disc_base": Between(1, 512),
    "disc_layers": Between(1, 8),
    "pathology": OneOf(("rl", "rnfld", "both")),
    "lam": Between(0.0, 1e9),
}


def check_gan_spec(data, where: str) -> GanSpec:
    """A generator file's spec, every field checked (CheckpointError naming ``where`` and the field)."""
    spec = GanSpec.from_dict(data, where, LIMITS)
    if spec.size % 2**spec.gen_depth:
        raise CheckpointError(
            f"{where} field 'size' is {spec.size}; it must be a multiple of 2 ** gen_depth ({2**spec.gen_depth})"
        )
    return spec


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
    spec = check_gan_spec(spec_dict, f"{path}: spec")
    generator = build_checked(lambda: Generator(spec), tensors, path, "Patho-GAN generator")
    generator.checkpoint_path = str(path)  # what a synthetic photo's sidecar names (and digests) as its source
    return generator.eval().requires_grad_(False).to(device)
