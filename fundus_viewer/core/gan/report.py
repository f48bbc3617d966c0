"""How good the synthesis is, on held-out vessel maps (``fundus-viewer gan-report``):

(a) the L1 distance between the pathology heat maps of synthetic and real photos (the paper's claim in
    a number: Patho-GAN's should be lower than the baseline's);
(b) FID and KID between synthetic and real photos in the feature space of the classifier's last conv
    layer (global-average-pooled; no downloaded Inception weights), on what the classifier sees (its
    disc crop);
(c) the classifier's glaucoma probability on synthetic photos made from glaucoma references.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import linalg

from fundus_viewer.core.gan.pairs import GanPair
from fundus_viewer.core.gan.pathology_loss import as_batch, classifier_batch, crop_transform, heat_distance
from fundus_viewer.core.gan.synthesis import synthesize


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
                logits = classifier(classifier_batch(as_batch(images[start : start + 16], device), transforms[start : start + 16]))
                probabilities.append(classifier.glaucoma_probability(logits).cpu())
    finally:
        handle.remove()
    return torch.cat(pooled).numpy().astype(np.float64), torch.cat(probabilities).numpy()


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int | None = None, seed: int = 0) -> tuple[float, float]:
    """Kernel inception distance: unbiased MMD^2 with the cubic polynomial kernel, mean and SD over
    random subsets (Binkowski et al. 2018); meaningful with far fewer images than FID."""
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    m = subset_size or min(len(a), len(b))
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def evaluate_generator(name: str, generator, classifier, test_pairs: list[GanPair], real_pairs: list[GanPair], samples: int = 4, seed: int = 0) -> GeneratorReport:
    size = generator.spec.size
    transform = lambda p: crop_transform(classifier, p.disc_center, p.disc_side, size)  # noqa: E731
    vessels = np.stack([p.vessels for p in test_pairs])
    synthetic = synthesize(generator, vessels, samples, seed)  # N x K x S x S x 3
    device = next(classifier.parameters()).device
    distances = []
    for pair, images in zip(test_pairs, synthetic):
        real = as_batch(np.repeat(pair.photo[None], samples, 0), device)
        distances.extend(heat_distance(classifier, real, as_batch(images, device), [transform(pair)] * samples, "both"))
    flat = synthetic.reshape(-1, size, size, 3)
    syn_transforms = [transform(p) for p in test_pairs for _ in range(samples)]
    syn_features, syn_p = features_and_probability(classifier, flat, syn_transforms)
    real_features, _ = features_and_probability(classifier, np.stack([p.photo for p in real_pairs]), [transform(p) for p in real_pairs])
    glaucoma = np.array([p.label == 1 for p in test_pairs for _ in range(samples)])
    kid_mean, kid_sd = kid(syn_features, real_features)
    return GeneratorReport(
        name=name, lam=generator.spec.lam,
        heat_l1_mean=float(np.mean(distances)), heat_l1_sd=float(np.std(distances, ddof=1)),
        fid=fid(syn_features, real_features), kid=kid_mean, kid_sd=kid_sd,
        p_glaucoma=float(syn_p[glaucoma].mean()) if glaucoma.any() else float("nan"),
        n_synthetic=len(flat),
    )


def real_reference(classifier, pairs: list[GanPair], size: int) -> dict:
    """The real photos' own figures: P(glaucoma), and FID/KID of one half against the other (a floor)."""
    transforms = [crop_transform(classifier, p.disc_center, p.disc_side, size) for p in pairs]
    features, probability = features_and_probability(classifier, np.stack([p.photo for p in pairs]), transforms)
    half = len(pairs) // 2
    order = np.random.default_rng(0).permutation(len(pairs))
    a, b = features[order[:half]], features[order[half:]]
    glaucoma = np.array([p.label == 1 for p in pairs])
    return {"p_glaucoma": float(probability[glaucoma].mean()) if glaucoma.any() else float("nan"), "fid_half_vs_half": fid(a, b), "kid_half_vs_half": kid(a, b)[0], "n": len(pairs)}
