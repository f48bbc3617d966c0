"""How good the synthesis is, on held-out vessel maps (``fundus-viewer gan-report``):

(a) the L1 distance between the pathology heat maps of synthetic and real photos (the paper's claim in
    a number: Patho-GAN's should be lower than the baseline's);
(b) FID and KID between synthetic and real photos in the feature space of the classifier's last conv
    layer (global-average-pooled; no downloaded Inception weights), on what the classifier sees (its
    disc crop);
(c) the classifier's glaucoma probability on synthetic photos made from glaucoma references;
(d) what a rater needs to see (with the cup/disc segmenter): the share of synthetic photos in which it
    finds an optic disc, their vCDR against the reference photo's, and the share whose field of view is
    round (circularity 4 pi area / perimeter^2 of its outline simplified to within a pixel >= 0.9: a
    circle scores 0.97-1, HRF's circle cut at top and bottom 0.95, a square 0.785 and a square with
    rounded corners about 0.88). The photos are judged as the generator makes them, not cut to the
    reference's field.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from fundus_viewer.core.fov import analyse_field_of_view
from fundus_viewer.core.gan.pairs import GanPair
from fundus_viewer.core.gan.pathology_loss import as_batch, classifier_batch, crop_transform, heat_distance
from fundus_viewer.core.gan.synthesis import synthesize
from fundus_viewer.core.progress import Callback  # progress(done, total): measuring takes minutes on a CPU
from fundus_viewer.core.transform import InputTransform


@dataclass
class GeneratorReport:
    name: str
    lam: float
    heat_l1_mean: float
    heat_l1_sd: float
    fid: float
    kid: float
    kid_sd: float
    p_glaucoma: float  # mean over synthetic photos from glaucoma references
    n_synthetic: int
    disc_found: float = float("nan")  # share of synthetic photos with a disc found (NaN: not measured)
    fov_round: float = float("nan")  # share with a round field of view
    vcdr_mae: float = float("nan")  # mean |vCDR(synthetic) - vCDR(reference)| where both have a disc
    n_vcdr: int = 0


ROUND = 0.9  # circularity from which a field of view counts as round (see (d) above)


def fov_circularity(rgb: np.ndarray) -> float:
    """4 pi A / P^2 of the photo's field of view (its largest bright region); a photo that fills its
    frame is measured as its frame (a rectangle, below ``ROUND``). The outline is simplified to within
    a pixel first, so a digital circle's staircase does not count as perimeter."""
    fov = analyse_field_of_view(rgb)
    mask: np.ndarray = np.ones(rgb.shape[:2], np.uint8) if fov.small_mask is None else fov.small_mask.astype(np.uint8)
    mask = cv2.copyMakeBorder(
        mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0
    )  # a frame-filling field has an outline too
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 0.0
    outline = cv2.approxPolyDP(max(contours, key=cv2.contourArea), 1.0, True)
    perimeter = cv2.arcLength(outline, True)
    return float(4 * np.pi * cv2.contourArea(outline) / perimeter**2) if perimeter > 0 else 0.0


def rater_figures(
    cup_disc_model, images: list[np.ndarray], reference_vcdr: list[float], progress: Callback | None = None
) -> dict:
    """(d) for photos ``images`` against their references' vCDR (NaN where the reference has none)."""
    from fundus_viewer.core.cup_disc import measure_cup_disc

    found, errors, round_ = [], [], []
    for done, (image, reference) in enumerate(zip(images, reference_vcdr, strict=True)):
        if progress is not None:
            progress(done, len(images))
        measured = measure_cup_disc(cup_disc_model, image)
        found.append(measured.disc is not None)
        if measured.disc is not None and np.isfinite(reference):
            errors.append(abs(measured.vcdr - reference))
        round_.append(fov_circularity(image) >= ROUND)
    if progress is not None:
        progress(len(images), len(images))
    return {
        "disc_found": float(np.mean(found)),
        "fov_round": float(np.mean(round_)),
        "vcdr_mae": float(np.mean(errors)) if errors else float("nan"),
        "n_vcdr": len(errors),
    }


def reference_vcdr(cup_disc_model, pairs: list[GanPair], progress: Callback | None = None) -> list[float]:
    from fundus_viewer.core.cup_disc import measure_cup_disc

    vcdr = []
    for done, pair in enumerate(pairs):
        if progress is not None:
            progress(done, len(pairs))
        vcdr.append(measure_cup_disc(cup_disc_model, pair.photo).vcdr)
    if progress is not None:
        progress(len(pairs), len(pairs))
    return vcdr


def features_and_probability(classifier, images: np.ndarray, transforms) -> tuple[np.ndarray, np.ndarray]:
    """Pooled last-conv features and P(glaucoma) of N x S x S x 3 uint8 images, through the classifier's crop."""
    device = next(classifier.parameters()).device
    pooled = []
    module = dict(classifier.named_modules())[classifier.cam_layer]
    handle = module.register_forward_hook(lambda _m, _i, out: pooled.append(out.mean(dim=(2, 3)).detach().cpu()))
    probabilities = []
    try:
        with torch.no_grad():
            for start in range(0, len(images), 16):
                logits = classifier(
                    classifier_batch(as_batch(images[start : start + 16], device), transforms[start : start + 16])
                )
                probabilities.append(classifier.glaucoma_probability(logits).cpu())
    finally:
        handle.remove()
    return torch.cat(pooled).numpy().astype(np.float64), torch.cat(probabilities).numpy()


class _Given(torch.nn.Module):
    """torchmetrics' feature extractor for features computed already (on each photo's own disc crop):
    they pass through."""

    def __init__(self, dims: int):
        super().__init__()
        self.num_features = dims

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017; torchmetrics,
    whose eigenvalue form stays finite for the singular covariances of fewer photos than features);
    NaN where a set has fewer than two photos (no covariance to fit)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    if len(a) < 2 or len(b) < 2:
        return float("nan")
    metric = FrechetInceptionDistance(feature=_Given(a.shape[1]))
    metric.update(torch.as_tensor(b, dtype=torch.float64), real=True)
    metric.update(torch.as_tensor(a, dtype=torch.float64), real=False)
    return float(metric.compute())


def kid(
    a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int | None = None, seed: int = 0
) -> tuple[float, float]:
    """Kernel inception distance: unbiased MMD^2 with the cubic polynomial kernel, mean and SD over
    random subsets (Binkowski et al. 2018; torchmetrics, its subsets drawn from ``seed``); meaningful
    with far fewer images than FID."""
    from torchmetrics.image.kid import KernelInceptionDistance

    m = subset_size or min(len(a), len(b))
    if m < 2:  # the unbiased estimate needs two photos a side
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Metric `Kernel Inception Distance` will save", UserWarning)
        metric = KernelInceptionDistance(feature=_Given(a.shape[1]), subsets=subsets, subset_size=m)
    metric.update(torch.as_tensor(b, dtype=torch.float64), real=True)
    metric.update(torch.as_tensor(a, dtype=torch.float64), real=False)
    with torch.random.fork_rng(devices=[]):  # the subsets, without touching the caller's random state
        torch.manual_seed(seed)
        mean, sd = metric.compute()
    return float(mean), float(sd)


def evaluate_generator(
    name: str,
    generator,
    classifier,
    test_pairs: list[GanPair],
    real_pairs: list[GanPair],
    samples: int = 4,
    seed: int = 0,
    cup_disc_model=None,
    references: list[float] | None = None,
    progress: Callback | None = None,
) -> GeneratorReport:
    """``references``: the test pairs' own vCDR (``reference_vcdr``), with ``cup_disc_model`` for (d);
    ``progress`` counts the test pairs' heat maps, then (with the cup/disc segmenter) the synthetic photos,
    each count once, from 0 to the total."""
    size = generator.spec.size
    total = len(test_pairs) * (1 + (samples if cup_disc_model is not None else 0))
    if progress is not None:
        progress(0, total)

    def transform(p: GanPair) -> InputTransform:
        return crop_transform(classifier, p.disc_center, p.disc_side, size)

    conditions = np.stack([p.condition(generator.spec) for p in test_pairs])
    # as the generator makes them: a generator not given the field is judged on the edge it draws
    synthetic = synthesize(generator, conditions, samples, seed)  # N x K x S x S x 3
    device = next(classifier.parameters()).device
    distances: list[float] = []
    for done, (pair, images) in enumerate(zip(test_pairs, synthetic, strict=True), 1):
        real = as_batch(np.repeat(pair.photo[None], samples, 0), device)
        distances.extend(heat_distance(classifier, real, as_batch(images, device), [transform(pair)] * samples, "both"))
        if progress is not None:
            progress(done, total)
    flat = synthetic.reshape(-1, size, size, 3)
    syn_transforms = [transform(p) for p in test_pairs for _ in range(samples)]
    syn_features, syn_p = features_and_probability(classifier, flat, syn_transforms)
    real_features, _ = features_and_probability(
        classifier, np.stack([p.photo for p in real_pairs]), [transform(p) for p in real_pairs]
    )
    glaucoma = np.array([p.label == 1 for p in test_pairs for _ in range(samples)])
    kid_mean, kid_sd = kid(syn_features, real_features)
    rater = {}
    if cup_disc_model is not None:
        refs = references if references is not None else reference_vcdr(cup_disc_model, test_pairs)
        rater = rater_figures(
            cup_disc_model,
            list(flat),
            [r for r in refs for _ in range(samples)],
            None if progress is None else (lambda done, _n: done and progress(len(test_pairs) + done, total)),
        )  # (its 0 is the heat maps' last count, said already)
    return GeneratorReport(
        name=name,
        lam=generator.spec.lam,
        heat_l1_mean=float(np.mean(distances)),
        heat_l1_sd=float(np.std(distances, ddof=1)),
        fid=fid(syn_features, real_features),
        kid=kid_mean,
        kid_sd=kid_sd,
        p_glaucoma=float(syn_p[glaucoma].mean()) if glaucoma.any() else float("nan"),
        n_synthetic=len(flat),
        **rater,
    )


def real_reference(
    classifier, pairs: list[GanPair], size: int, cup_disc_model=None, progress: Callback | None = None
) -> dict:
    """The real photos' own figures: P(glaucoma), FID/KID of one half against the other (a floor) and,
    with the cup/disc segmenter, their disc-found and round-field shares (``progress`` counts those photos)."""
    transforms = [crop_transform(classifier, p.disc_center, p.disc_side, size) for p in pairs]
    features, probability = features_and_probability(classifier, np.stack([p.photo for p in pairs]), transforms)
    half = len(pairs) // 2
    order = np.random.default_rng(0).permutation(len(pairs))
    a, b = features[order[:half]], features[order[half:]]
    glaucoma = np.array([p.label == 1 for p in pairs])
    figures = {
        "p_glaucoma": float(probability[glaucoma].mean()) if glaucoma.any() else float("nan"),
        "fid_half_vs_half": fid(a, b),
        "kid_half_vs_half": kid(a, b)[0],
        "n": len(pairs),
    }
    if cup_disc_model is not None:
        rater = rater_figures(cup_disc_model, [p.photo for p in pairs], [float("nan")] * len(pairs), progress)
        figures.update(disc_found=rater["disc_found"], fov_round=rater["fov_round"])
    return figures
