"""``fundus-train calibrate``: temperature scaling and a decision threshold for a trained classifier,
fitted on its own validation split (rebuilt from the checkpoint's data, seed and hold-out), its test
split measured at that call, and the training photos' features kept as the out-of-distribution bank,
all written into the checkpoint. ``fundus-train classifier`` ends with the same three steps.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.common import run_main

if TYPE_CHECKING:
    import numpy as np
    import torch

    from fundus_viewer.core.calibration import Calibration
    from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier
    from fundus_viewer.core.ood import OodRule
    from trainer.sources import Sample


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fundus-train calibrate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="a classifier checkpoint written by fundus-train classifier")
    parser.add_argument("--data", help="its training manifest (default: the one it names)")
    parser.add_argument(
        "--specificity",
        type=float,
        default=0.85,
        help="the operating point: the call's specificity on validation (0.85)",
    )
    parser.add_argument(
        "--ood-photos",
        nargs="+",
        metavar="PATH",
        help="photos of other kinds (folders or files, e.g. another camera's) "
        "to measure how well the OOD score tells them from the test split",
    )
    parser.add_argument("--out", help="where to write the calibrated checkpoint (default: over --model)")
    parser.add_argument("--device", default="auto")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main("calibrate", build_parser(), run, argv)


def predict_logits(
    model: GlaucomaClassifier, inputs: torch.Tensor, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """N x classes float64 logits of N inputs, in eval mode, no gradients."""
    import numpy as np
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            out.append(model(inputs[start : start + batch_size].to(device)).float().cpu())
    return torch.cat(out).double().numpy() if out else np.zeros((0, len(model.spec.class_names)))


def predict(
    model: GlaucomaClassifier,
    inputs: torch.Tensor,
    device: torch.device,
    labels: np.ndarray | None = None,
    batch_size: int = 64,
) -> tuple[np.ndarray, float]:
    """(calibrated P(glaucoma), mean cross-entropy of the raw logits against ``labels``)."""
    import torch

    logits = torch.from_numpy(predict_logits(model, inputs, device, batch_size))
    probs = model.glaucoma_probability(logits).numpy()
    if labels is None or not len(logits):
        return probs, 0.0
    return probs, float(torch.nn.functional.cross_entropy(logits.float(), torch.as_tensor(labels)))


def test_report(
    samples: list[Sample], probs: np.ndarray, located: list[bool], threshold: float = 0.5
) -> dict[str, dict[str, Any]]:
    import numpy as np

    from fundus_viewer.core.classification_metrics import binary_report

    labels = np.array([s.label for s in samples])
    groups = {
        "all": np.ones(len(samples), bool),
        "full photos (disc located)": np.array(located, bool),
        "disc crops": ~np.array(located, bool),
    }
    for dataset in sorted({s.dataset for s in samples}):
        groups[dataset] = np.array([s.dataset == dataset for s in samples])
    return {name: binary_report(labels[mask], probs[mask], threshold) for name, mask in groups.items() if mask.any()}


def format_report(report: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'test set':<28}{'n':>5}{'AUC (95% CI)':>24}{'acc':>7}{'sens':>7}{'spec':>7}"]
    for name, r in report.items():
        ci = f"{r['auc']:.3f} ({r['auc_ci95'][0]:.3f}-{r['auc_ci95'][1]:.3f})"
        lines.append(
            f"{name:<28}{r['n']:>5}{ci:>24}{r['accuracy']:>7.3f}{r['sensitivity']:>7.3f}{r['specificity']:>7.3f}"
        )
    return "\n".join(lines)


def fit_calibration(
    model: GlaucomaClassifier,
    val_inputs: torch.Tensor,
    val_labels: np.ndarray,
    device: torch.device,
    specificity: float,
    required: bool = True,
    groups: list[str] | None = None,
) -> Calibration:
    """Fit T and the threshold on the validation inputs; stored in ``model.spec.calibration``. Where that
    cannot be done (one class only) and it is not ``required`` (the end of a training run, whose model
    must not be lost), the model stays uncalibrated and says so."""
    from fundus_viewer.core.calibration import Calibration, calibrate
    from trainer.classifier import raise_data_error

    try:
        calibration = calibrate(
            predict_logits(model, val_inputs, device),
            val_labels,
            model.glaucoma_index,
            specificity,
            f"the validation split, {len(val_labels)} photos",
            groups,
        )
    except ValueError as exc:
        if required:
            raise_data_error(f"cannot calibrate on the validation split: {exc}")
        print(f"warning: not calibrated ({exc}); the call stays at P >= 0.5", file=sys.stderr)
        model.spec.calibration = {}
        return Calibration()
    if not 0.06 < calibration.temperature < 19.0:  # at the fit's bounds: validation separated (nearly) perfectly
        print(
            f"warning: temperature {calibration.temperature:.3f} at the edge of its range: the validation split "
            "is too easy (or too small) to calibrate on; its probabilities will be over-confident",
            file=sys.stderr,
        )
    model.spec.calibration = calibration.to_dict()
    return calibration


def eval_batches(samples: list[Sample], spec: ClassifierSpec, batch_size: int = 64) -> Iterator[torch.Tensor]:
    """The app's inputs of ``samples``, one batch at a time (a whole data set never in memory)."""
    import torch

    from trainer.classifier_data import load_eval_input, to_tensor

    for start in range(0, len(samples), batch_size):
        yield torch.stack([to_tensor(load_eval_input(s, spec)) for s in samples[start : start + batch_size]])


def fit_ood(
    model: GlaucomaClassifier,
    train_inputs: torch.Tensor | Iterator[torch.Tensor],
    val_inputs: torch.Tensor,
    device: torch.device,
    percentile: float = 95.0,
) -> OodRule:
    """The training photos' features (``train_inputs``: a tensor or batches) become the model's OOD
    bank; the flag's threshold is the ``percentile`` of the validation photos' scores (``model.spec.ood``)."""
    from fundus_viewer.core.ood import features_of, fit_rule

    bank = features_of(model, train_inputs, device)
    # k = 1: the bank holds a few hundred photos in clusters by source, some of under 20 (HRF's training
    # photos), and a k above a cluster's size would call its own members strangers
    rule = fit_rule(
        bank,
        features_of(model, val_inputs, device),
        k=1,
        percentile=percentile,
        fitted_on=f"{len(bank)} training photos; threshold at the {percentile:g}th percentile of "
        f"{len(val_inputs)} validation photos",
    )
    model.ood_bank, model.spec.ood = bank, rule.to_dict()
    return rule


def ood_report(
    model: GlaucomaClassifier, test_inputs: torch.Tensor, other_paths: list[Path], device: torch.device
) -> dict[str, Any]:
    """How well the score tells the test split (the training sources) from photos of other kinds."""
    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from fundus_viewer.core.errors import FundusViewerError
    from fundus_viewer.core.ood import features_of
    from fundus_viewer.core.photo import prepare_photo
    from trainer.classifier import raise_data_error
    from trainer.classifier_data import to_tensor

    inside = [s.score for s in model.ood_scores(features_of(model, test_inputs, device))]
    readable = []
    for path in other_paths:
        try:
            readable.append(to_tensor(prepare_photo(path).for_spec(model.spec)[1]))
        except FundusViewerError as exc:  # one bad photo costs its row, not the calibration
            print(f"skipped: {exc}", file=sys.stderr)
    if not readable:
        raise_data_error("--ood-photos: no readable photo")
    outside = [s.score for s in model.ood_scores(features_of(model, torch.stack(readable), device))]
    threshold = model.spec.ood["threshold"]
    return {
        "auc": float(roc_auc_score([0] * len(inside) + [1] * len(outside), inside + outside)),
        "test_photos": len(inside),
        "other_photos": len(outside),
        "flagged_test": float(np.mean(np.array(inside) > threshold)),
        "flagged_other": float(np.mean(np.array(outside) > threshold)),
        "others": sorted({"/".join(Path(p).parent.parts[-2:]) for p in other_paths}),  # no path of this machine
    }


def calibrated_test(
    model: GlaucomaClassifier, samples: list[Sample], inputs: torch.Tensor, device: torch.device
) -> dict[str, dict[str, Any]]:
    """The test report at the model's own call, with ECE before calibration and the reliability diagram."""
    import numpy as np
    import torch

    from fundus_viewer.core.calibration import expected_calibration_error, reliability, softmax
    from fundus_viewer.core.disc import locate_optic_disc
    from fundus_viewer.core.images import load_image

    logits = predict_logits(model, inputs, device)
    labels = np.array([s.label for s in samples])
    probs = model.glaucoma_probability(torch.from_numpy(logits)).numpy()
    located = [locate_optic_disc(load_image(s.path).rgb).located for s in samples]
    report = test_report(samples, probs, located, model.calibration.threshold)
    report["all"]["ece_uncalibrated"] = expected_calibration_error(softmax(logits)[:, model.glaucoma_index], labels)
    report["all"]["reliability"] = reliability(probs, labels)
    return report


def run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    import numpy as np
    import torch

    from fundus_viewer.core.device import select_device
    from fundus_viewer.core.models.checkpoint import load_classifier, save_classifier, stored_half
    from trainer.classifier import raise_data_error
    from trainer.classifier_data import load_eval_input, to_tensor
    from trainer.sources import read_labelled_photos, split_samples

    device = select_device(args.device)
    model = load_classifier(args.model, device=device)
    training = model.spec.training
    data = args.data or training.get("data")
    if not data:
        raise_data_error(f"{args.model}: names no training data; pass --data")
    samples = split_samples(read_labelled_photos(data), seed=training.get("seed", 0), hold_out=training.get("hold_out"))
    by_split = {name: [s for s in samples if s.split == name] for name in ("train", "val", "test")}
    if not 0 < args.specificity <= 1:
        raise_data_error(f"--specificity {args.specificity}: a fraction in (0, 1]")
    for name, members in by_split.items():
        recorded = training.get("split_files", {}).get(name)
        if recorded is not None and sorted(s.path.name for s in members) != recorded:
            raise_data_error(
                f"{data}: its {name} split is not the one {args.model} was trained with (other photos or another seed)"
            )
    inputs = {
        name: torch.stack([to_tensor(load_eval_input(s, model.spec)) for s in by_split[name]])
        for name in ("val", "test")
    }
    calibration = fit_calibration(
        model,
        inputs["val"],
        np.array([s.label for s in by_split["val"]]),
        device,
        args.specificity,
        groups=[s.dataset for s in by_split["val"]],
    )
    report = calibrated_test(model, by_split["test"], inputs["test"], device)
    fit_ood(model, eval_batches(by_split["train"], model.spec), inputs["val"], device)
    model.spec.metrics = {**model.spec.metrics, "test": report}
    if args.ood_photos:
        from fundus_viewer.core.formats import list_images

        others = [q for p in map(Path, args.ood_photos) for q in (list_images(p) if p.is_dir() else [p])]
        model.spec.metrics["ood"] = ood_report(model, inputs["test"], others, device)
        print(f"OOD: {json.dumps(model.spec.metrics['ood'])}", file=sys.stderr)
    out = save_classifier(model, args.out or args.model, half=stored_half(args.model))
    print(f"temperature {calibration.temperature:.3f}; {calibration.says()}", file=sys.stderr)
    print(f"validation at that call: {json.dumps(calibration.validation)}", file=sys.stderr)
    print(format_report(report))
    print(f"wrote {out}", file=sys.stderr)
    return report
