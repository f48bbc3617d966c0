"""The classifier wrapper: input normalisation inside the model, and the local-contrast option."""

import torch

from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier, local_contrast


def test_local_contrast_removes_flat_colour_and_keeps_structure():
    flat = torch.full((1, 3, 64, 64), 0.7)
    assert torch.allclose(local_contrast(flat), torch.full_like(flat, 0.5), atol=1e-5)
    spot = flat.clone()
    spot[..., 30:34, 30:34] = 0.9
    out = local_contrast(spot)
    assert out[..., 31, 31].min() > 0.9 and abs(float(out[..., 5, 5].mean()) - 0.5) < 1e-3


def test_preprocessing_is_differentiable_inside_the_model():
    torch.manual_seed(0)
    spec = ClassifierSpec(
        arch="alexnet", input_size=99, preprocess="local-contrast", arch_options={"width": 0.125, "hidden": 8}
    )
    model = GlaucomaClassifier(spec).eval()
    x = torch.rand(1, 3, 99, 99, requires_grad=True)
    model(x)[0, 1].backward()
    assert x.grad.abs().sum() > 0


def test_the_circle_option_hides_everything_outside_the_inscribed_circle():
    torch.manual_seed(0)
    spec = ClassifierSpec(arch="alexnet", input_size=99, circle=True, arch_options={"width": 0.125, "hidden": 8})
    model = GlaucomaClassifier(spec).eval()
    x = torch.rand(1, 3, 99, 99)
    changed = x.clone()
    changed[..., :10, :10] = 1.0 - changed[..., :10, :10]  # a corner, outside the circle
    assert torch.allclose(model(x), model(changed))
    changed[..., 45:55, 45:55] = 0.0  # the centre
    assert not torch.allclose(model(x), model(changed))
