"""``fundus-train gan``: train Patho-GAN (or, with ``--lambda 0``, the paper's baseline).

Loss (paper, eq. 5): adversarial + lambda * L_patho, L_patho = |V(X_real) - V(X_syn)|_1 with V the
pathology-aware heat maps of the frozen classifier (``--pathology rl|rnfld|both``). The generator is
updated twice for every discriminator update. On a GPU, G and D run in mixed precision (L_patho in
float32); under torchrun every process trains a DistributedDataParallel copy (see trainer.distributed).

Presets:
- ``paper``: 512 px, batch 1, SGD lr 2e-4, random rotation, 240,000 steps, the paper's losses only;
  a 64-channel depth-4 U-Net.
- ``laptop``: 256 px, batch 4, Adam lr 2e-4 (beta1 0.5), random rotation, 1,500 steps, a 16-channel
  U-Net, plus pix2pix's L1 reconstruction term (weight 10) so that something recognisable appears within
  an hour on a CPU, and the field of view as a condition channel (``--fov``; the paper's generator had
  to invent the round field from the vessels); the model card says so.

Beyond the paper, ``--disc-cup`` also gives G and D the optic disc and cup masks (the cup/disc
segmenter's, on each training photo), so that ``fundus-viewer synthesize --vcdr V`` can set the cup.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fundus_viewer.core.atomic import atomic_write
from trainer.common import (
    UNFIT_STATE,
    add_run_options,
    command_line,
    loader_workers,
    out_of_time,
    run_main,
    unfit_state,
)

if TYPE_CHECKING:
    import torch

    from fundus_viewer.core.gan.networks import Discriminator, Generator
    from fundus_viewer.core.gan.pairs import GanPair
    from fundus_viewer.core.models.classifier import GlaucomaClassifier
    from trainer.distributed import Dist

# a batch of PairDataset items: real photos, their conditions, their disc squares (x, y, side)
Batch = tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]

PRESETS = {
    "paper": dict(
        size=512,
        batch_size=1,
        optimizer="sgd",
        lr=2e-4,
        steps=240_000,
        gen_base=64,
        gen_depth=4,
        disc_base=64,
        disc_layers=3,
        l1=0.0,
        sample_every=2000,
        checkpoint_every=2000,
        fov=False,
    ),
    "laptop": dict(
        size=256,
        batch_size=4,
        optimizer="adam",
        lr=2e-4,
        steps=1500,
        gen_base=16,
        gen_depth=4,
        disc_base=32,
        disc_layers=3,
        l1=10.0,
        sample_every=100,
        checkpoint_every=100,
        fov=True,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-train gan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        required=True,
        help="manifest or class folders of labelled photos (or photo / vessel-mask pairs with --vessels masks)",
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="laptop")
    parser.add_argument(
        "--pathology", choices=("rl", "rnfld", "both"), default="both", help="which heat maps L_patho compares"
    )
    parser.add_argument(
        "--lambda", dest="lam", type=float, default=1000.0, help="L_patho weight (paper 1000; 0 = the paper's baseline)"
    )
    parser.add_argument("--l1", type=float, help="pix2pix L1 reconstruction weight (laptop preset 10, paper 0)")
    parser.add_argument(
        "--label", choices=("glaucoma", "normal", "all"), default="glaucoma", help="which labelled photos to learn from"
    )
    parser.add_argument(
        "--vessels",
        choices=("segment", "masks"),
        default="segment",
        help="vessel maps from the segmenter (cached) or expert masks",
    )
    parser.add_argument("--classifier", help="classifier checkpoint for V (default: the bundled one)")
    parser.add_argument("--segmenter", help="vessel segmenter checkpoint (default: the bundled one)")
    parser.add_argument(
        "--fov",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the field of view as a condition channel; output black outside it (laptop preset: on; paper: off)",
    )
    parser.add_argument(
        "--disc-cup",
        action="store_true",
        help="condition on the optic disc and cup masks (beyond the paper; see synthesize --vcdr)",
    )
    parser.add_argument(
        "--cup-disc", metavar="CKPT", help="cup/disc segmenter for --disc-cup (default: the bundled one)"
    )
    parser.add_argument(
        "--vessel-cache", help="folder for the segmented vessel maps (default OUT/vessel-cache); runs may share one"
    )
    for name, kind in (
        ("steps", int),
        ("size", int),
        ("batch-size", int),
        ("lr", float),
        ("gen-base", int),
        ("gen-depth", int),
        ("sample-every", int),
        ("checkpoint-every", int),
    ):
        parser.add_argument(f"--{name}", type=kind)
    parser.add_argument("--test-fraction", type=float, default=0.15, help="pairs held out for gan-report")
    parser.add_argument(
        "--progress",
        choices=("bar", "json"),
        default="bar",
        help="progress as bars on stderr, or as JSON lines on stdout for a program (see fundus_viewer.core.progress)",
    )
    add_run_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("gan", build_parser(), train, argv)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    settings = dict(PRESETS[args.preset])
    for key in (
        "steps",
        "size",
        "batch_size",
        "lr",
        "gen_base",
        "gen_depth",
        "sample_every",
        "checkpoint_every",
        "l1",
        "fov",
    ):
        if getattr(args, key, None) is not None:
            settings[key] = getattr(args, key)
    return settings


class GanSteps:
    """One training iteration: two generator updates, then one discriminator update (the paper's)."""

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        classifier: GlaucomaClassifier,
        settings: dict[str, Any],
        lam: float,
        pathology: str,
        device: torch.device,
        dist: Dist | None = None,
    ):
        import torch

        from trainer.distributed import Dist, wrap

        # G and D as trained (DistributedDataParallel under torchrun); the plain modules for their state
        self.generator, self.discriminator = generator, discriminator
        self.G, self.D = wrap(generator, dist or Dist()), wrap(discriminator, dist or Dist())
        self.classifier = classifier
        self.lam, self.pathology, self.l1 = lam, pathology, settings["l1"]
        self.device = device
        make = (
            (lambda p: torch.optim.SGD(p, lr=settings["lr"]))
            if settings["optimizer"] == "sgd"
            else (lambda p: torch.optim.Adam(p, lr=settings["lr"], betas=(0.5, 0.999)))
        )
        self.opt_g, self.opt_d = make(generator.parameters()), make(discriminator.parameters())
        self.bce = torch.nn.BCEWithLogitsLoss()
        self.g_steps = self.d_steps = 0
        # Mixed precision on a GPU for G and D; L_patho's double back-propagation through the
        # classifier stays in float32, where its small map differences keep their precision.
        self.amp = device.type == "cuda"
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.amp)

    def autocast(self) -> torch.autocast:
        import torch

        return torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp)

    def transforms(self, disc: torch.Tensor) -> list[Any]:
        from fundus_viewer.core.gan.pathology_loss import crop_transform

        size = self.generator.spec.size
        return [
            crop_transform(self.classifier, (float(d[0]), float(d[1])), int(round(float(d[2]))), size) for d in disc
        ]

    def generator_step(self, real: torch.Tensor, condition: torch.Tensor, transforms: list[Any]) -> dict[str, float]:
        import torch

        from fundus_viewer.core.gan.pathology_loss import pathology_loss

        with self.autocast():
            synthetic = self.G(condition)
            logits = self.D(synthetic, condition).float()
        synthetic = synthetic.float()
        adversarial = self.bce(logits, torch.ones_like(logits))
        loss, terms = adversarial, {"g_adv": adversarial.item()}
        if self.lam > 0:
            patho, _, _ = pathology_loss(self.classifier, real, synthetic, transforms, self.pathology)
            loss = loss + self.lam * patho
            terms["g_patho"] = patho.item()
        if self.l1 > 0:
            reconstruction = (synthetic - real).abs().mean()
            loss = loss + self.l1 * reconstruction
            terms["g_l1"] = reconstruction.item()
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        self.g_steps += 1
        return terms

    def discriminator_step(self, real: torch.Tensor, condition: torch.Tensor) -> dict[str, float]:
        import torch

        with torch.no_grad(), self.autocast():
            synthetic = self.G(condition).float()
        # one forward for both halves: under DDP a module may run only once per backward
        with self.autocast():
            logits = self.D(torch.cat([real, synthetic]), torch.cat([condition, condition])).float()
        real_logits, fake_logits = logits[: len(real)], logits[len(real) :]
        loss = 0.5 * (
            self.bce(real_logits, torch.ones_like(real_logits)) + self.bce(fake_logits, torch.zeros_like(fake_logits))
        )
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(loss).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        self.d_steps += 1
        return {
            "d_loss": loss.item(),
            "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item(),
        }

    def iteration(self, batches: Sequence[Batch]) -> dict[str, float]:
        """``batches``: two (real, condition, disc) batches for the two G updates; D sees the second."""
        terms: dict[str, float] = {}
        for real, condition, disc in batches:
            real, condition = real.to(self.device), condition.to(self.device)
            g = self.generator_step(real, condition, self.transforms(disc))
            for key, value in g.items():
                terms[key] = terms.get(key, 0.0) + value / len(batches)
        terms.update(self.discriminator_step(real, condition))
        return terms

    def state(self) -> dict[str, Any]:
        return {
            "G": self.generator.state_dict(),
            "D": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "g_steps": self.g_steps,
            "d_steps": self.d_steps,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["G"])
        self.discriminator.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if state.get("scaler_g"):  # empty on a CPU run; absent in states from before mixed precision
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        self.g_steps, self.d_steps = state["g_steps"], state["d_steps"]


def resumed_conditions(state: dict[str, Any], path) -> dict[str, bool]:
    """The --fov / --disc-cup a GAN training state was started with, once it is known to be one (a
    classifier's last.pt was reported as "started with --no-fov"; a damaged entry was a TypeError)."""
    from fundus_viewer.core.errors import CheckpointError

    missing = [key for key in ("G", "D", "opt_g", "opt_d", "step", "g_steps", "d_steps") if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a training state of this command (no {', '.join(missing)})")
    wrong = [k for k in ("step", "g_steps", "d_steps") if isinstance(state[k], bool) or not isinstance(state[k], int)]
    # runs from before these options had neither
    conditions = state.get("conditions", {"fov_channel": False, "disc_cup": False})
    if not isinstance(conditions, dict) or not all(
        isinstance(conditions.get(k), bool) for k in ("fov_channel", "disc_cup")
    ):
        wrong.append("conditions")
    if wrong:
        raise CheckpointError(f"{path}: damaged training state ({', '.join(wrong)} of the wrong type)")
    return {"fov_channel": conditions["fov_channel"], "disc_cup": conditions["disc_cup"]}


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader

    from fundus_viewer.core.gan.checkpoint import save_generator
    from fundus_viewer.core.gan.networks import Discriminator, GanSpec, Generator
    from fundus_viewer.core.models.checkpoint import load_classifier
    from fundus_viewer.core.progress import Progress
    from trainer.classifier_data import worker_init
    from trainer.common import start_devices
    from trainer.distributed import barrier, broadcast_flag, describe, finish, share
    from trainer.gan_data import PairDataset, disc_radius_share, mask_pairs, pair_key, photo_pairs, split_pairs
    from trainer.runlog import RunLog, plot_curves
    from trainer.state import load_state, save_state

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings_from(args)
    dist, device = start_devices(args.seed, args.device)  # every rank builds the same initial networks
    progress = Progress(getattr(args, "progress", "bar"), enabled=dist.main)  # rank 0 speaks for the run
    progress.busy("loading the models")
    classifier = load_classifier(args.classifier, device=device)  # a clear CheckpointError when missing or wrong
    spec_c = classifier.spec
    if spec_c.crop != "disc":
        print(f"note: the classifier crops '{spec_c.crop}', not the disc; L_patho compares that crop", file=sys.stderr)
    diameters = spec_c.disc_diameters
    cup_disc = None
    if args.disc_cup:
        from fundus_viewer.core.cup_disc import load_cup_disc_segmenter

        cup_disc = load_cup_disc_segmenter(args.cup_disc, device=device)
    if not dist.main:
        barrier(dist)  # rank 0 segments and caches the vessel maps first; the others read the cache
    if args.vessels == "masks":
        pairs = mask_pairs(args.data, settings["size"], diameters, cup_disc, progress.counter("reading vessel masks"))
    else:
        pairs = photo_pairs(
            args.data,
            Path(args.vessel_cache) if args.vessel_cache else out / "vessel-cache",
            settings["size"],
            diameters,
            args.label,
            args.segmenter,
            device,
            log=print if dist.main else (lambda *a, **k: None),
            cup_disc_model=cup_disc,
            progress=progress.counter("segmenting vessels"),
        )
    progress.busy("building the networks")
    if dist.main:
        barrier(dist)
    train_pairs, test_pairs = split_pairs(pairs, args.test_fraction, args.seed)
    spec = GanSpec(
        size=settings["size"],
        gen_base=settings["gen_base"],
        gen_depth=settings["gen_depth"],
        disc_base=settings["disc_base"],
        disc_layers=settings["disc_layers"],
        pathology=args.pathology,
        lam=args.lam,
        fov_channel=bool(settings["fov"]),
        disc_cup=args.disc_cup,
    )
    from fundus_viewer.core.gan.checkpoint import check_gan_spec

    check_gan_spec(spec.to_dict(), "the options give a spec whose")  # the loader's checks, before training
    spec.training = {
        "data": str(args.data),
        "preset": args.preset,
        "settings": settings,
        "seed": args.seed,
        "label": args.label,
        "vessels": args.vessels,
        "split": {"train": [p.name for p in train_pairs], "test": [p.name for p in test_pairs]},
        "split_digests": {"train": [pair_key(p) for p in train_pairs], "test": [pair_key(p) for p in test_pairs]},
        "classifier": str(args.classifier or "bundled"),
        "classifier_metrics": spec_c.metrics.get("test", {}).get("all", {}),
        "command": command_line("gan"),
        "torch": torch.__version__,
        "machine": describe(device, dist),
    }
    if args.disc_cup:
        spec.training["cup_disc"] = str(args.cup_disc or "bundled")
        spec.training["disc_found"] = sum(p.disc is not None for p in train_pairs)
        spec.training["disc_radius_share"] = disc_radius_share(train_pairs)
        if spec.training["disc_found"] == 0 and dist.main:
            print(
                "warning: --disc-cup: the cup/disc segmenter found no disc on any training photo; "
                "the generator learns nothing of them",
                file=sys.stderr,
            )
        if dist.main:
            print(
                f"disc and cup segmented on {spec.training['disc_found']} of {len(train_pairs)} training photos",
                file=sys.stderr,
            )
    generator, discriminator = Generator(spec).to(device), Discriminator(spec).to(device)
    steps = GanSteps(generator, discriminator, classifier, settings, args.lam, args.pathology, device, dist)
    state_path, model_path = out / "last.pt", out / "generator.safetensors"
    step = 0
    conditions = {"fov_channel": spec.fov_channel, "disc_cup": spec.disc_cup}
    if args.resume and not state_path.exists():
        print(f"--resume: no complete checkpoint in {out}; starting from scratch", file=sys.stderr)
    if args.resume and state_path.exists():
        state = load_state(state_path)
        started_with = resumed_conditions(state, state_path)
        if started_with != conditions:
            flags = ("--fov" if started_with["fov_channel"] else "--no-fov") + (
                " --disc-cup" if started_with["disc_cup"] else ""
            )
            from trainer.sources import DataError

            raise DataError(
                f"{state_path}: this run was started with {flags}; resume it with the same (or start a new --out)"
            )
        try:
            steps.load(state)
            step = int(state["step"])
        except UNFIT_STATE as exc:
            raise unfit_state(state_path, "does not fit this run", exc) from None
        print(f"resuming after step {step}", file=sys.stderr)
    fields = ["step", "g_adv", "g_patho", "g_l1", "d_loss", "d_real", "d_fake", "seconds"]
    log = RunLog(out / "log.csv", fields, resume=step > 0) if dist.main else None
    if log is not None:
        log.truncate_after(step, key="step")
    dataset = PairDataset(train_pairs, rotate=True, seed=args.seed, spec=spec)
    workers = loader_workers(args.workers)
    fixed = (test_pairs or train_pairs)[:4]
    fixed_conditions = torch.stack([torch.from_numpy(p.condition(spec)) for p in fixed]).to(device)
    fixed_noise = generator.noise(fixed_conditions, torch.Generator().manual_seed(args.seed))

    def batches() -> Iterator[Batch]:
        epoch = step // max(1, len(dataset))
        while True:
            dataset.set_epoch(epoch)
            # the same draw on every rank, then each takes its share
            order = share(
                torch.randperm(
                    len(dataset), generator=torch.Generator().manual_seed(args.seed * 1009 + epoch)
                ).tolist(),
                dist,
            )
            loader = DataLoader(
                dataset,
                batch_size=min(settings["batch_size"], len(order)),
                sampler=order,
                drop_last=True,
                num_workers=workers,
                worker_init_fn=worker_init,
            )
            yield from loader
            epoch += 1

    source = batches()
    progress.count("training", step, settings["steps"])
    tick = time.time()
    while step < settings["steps"]:
        generator.train()
        discriminator.train()
        terms = steps.iteration([next(source), next(source)])
        step += 1
        saved = False
        if log is not None:  # rank 0
            log.append(
                {"step": step, **{k: terms.get(k, "") for k in fields[1:-1]}, "seconds": round(time.time() - tick, 3)}
            )
            if step % settings["sample_every"] == 0 or step == settings["steps"]:
                write_grid(generator, fixed, fixed_conditions, fixed_noise, out / "samples" / f"step-{step:06d}.png")
                plot_curves(
                    log,
                    out / "curves.png",
                    "step",
                    [("generator", ["g_adv", "g_patho", "g_l1"]), ("discriminator", ["d_loss", "d_real", "d_fake"])],
                )
            if step % settings["checkpoint_every"] == 0 or step == settings["steps"]:
                save_state(state_path, {**steps.state(), "step": step, "conditions": conditions})
                saved = True
        progress.count("training", step, settings["steps"], **({"checkpoint": step} if saved else {}))
        tick = time.time()
        if broadcast_flag(dist.main and out_of_time(args, started), dist):  # rank 0's clock decides
            if dist.main:
                save_state(state_path, {**steps.state(), "step": step, "conditions": conditions})
                progress.count("training", step, settings["steps"], checkpoint=step)
            break
    progress.busy("saving the generator")
    generator.eval()
    spec.training.update(
        {
            "steps_run": step,
            "g_steps": steps.g_steps,
            "d_steps": steps.d_steps,
            "seconds": round(time.time() - started, 1),
        }
    )
    if dist.main:
        save_generator(generator, model_path, half=args.half)
        atomic_write(out / "test-pairs.json", json.dumps([p.name for p in test_pairs]))
        print(f"wrote {model_path} after {step} steps ({steps.g_steps} G, {steps.d_steps} D updates)", file=sys.stderr)
    progress.close()
    finish(dist)
    return {"steps": step}


def write_grid(
    generator: Generator, pairs: list[GanPair], conditions: torch.Tensor, noise: torch.Tensor, path: Path
) -> None:
    """Rows: vessel map, real photo, synthetic photo, for the same fixed pairs and noise every time."""
    import numpy as np
    import torch

    from fundus_viewer.core.overlay import write_png

    with torch.no_grad():
        synthetic = generator.eval()(conditions, noise).cpu().numpy().transpose(0, 2, 3, 1)
    generator.train()
    columns = []
    for pair, syn in zip(pairs, synthetic, strict=True):  # one synthetic photo per pair's condition
        v = np.repeat((pair.vessels[..., None] * 255).astype(np.uint8), 3, axis=2)
        columns.append(np.concatenate([v, pair.photo, (syn * 255).round().astype(np.uint8)], axis=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, np.concatenate(columns, axis=1))
