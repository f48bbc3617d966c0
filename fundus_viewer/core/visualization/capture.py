"""One forward and one backward pass that record feature maps and d(glaucoma logit)/d(map)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Capture:
    logits: torch.Tensor  # B x classes, pre-softmax
    activations: list[torch.Tensor]  # per layer: B x K x h x w
    gradients: list[torch.Tensor]  # per layer: d(logit[target]) / d(activation), same shapes


def resolve_layers(model: nn.Module, names) -> list[nn.Module]:
    modules = dict(model.named_modules())
    missing = [name for name in names if name not in modules]
    if missing:
        choices = ", ".join(n for n in modules if n)
        raise ValueError(f"unknown layer(s) {', '.join(missing)}; the model has: {choices}")
    return [modules[name] for name in names]


def capture(
    model: nn.Module,
    x: torch.Tensor,
    layers,
    target: int,
    create_graph: bool = False,
    autocast_dtype: torch.dtype | None = None,
) -> Capture:
    """Run ``model`` on ``x`` and return the chosen layers' activations and their gradients.

    With ``create_graph=True`` both stay differentiable, so a loss on the heat map (Patho-GAN's
    L_patho) back-propagates into whatever produced ``x``. The input is made to require grad when it
    does not, because with frozen weights nothing else would connect the activations to the graph.
    Only the part of the graph above the earliest chosen layer is differentiated.

    ``autocast_dtype`` (mixed precision, e.g. float16 on CUDA): the layers below the first chosen one
    run in that precision; from the first chosen layer up, autocast is off and the input is taken to
    float32, so the recorded maps, their gradients and hence the weights are float32 throughout.
    """
    modules = resolve_layers(model, layers)
    recorded: list[list[torch.Tensor]] = [[] for _ in modules]
    handles = [
        module.register_forward_hook(lambda _m, _i, output, slot=slot: slot.append(output))
        for module, slot in zip(modules, recorded, strict=True)
    ]
    device_type = x.device.type

    def full_precision_from_here(_module, inputs):
        torch.set_autocast_enabled(device_type, False)  # restored when the autocast block below ends
        return tuple(i.float() if torch.is_tensor(i) and i.is_floating_point() else i for i in inputs)

    if autocast_dtype is not None:
        handles += [module.register_forward_pre_hook(full_precision_from_here) for module in modules]
    try:
        with (
            torch.enable_grad(),
            torch.autocast(
                device_type=device_type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None
            ),
        ):
            if not x.requires_grad:
                x = x.detach().requires_grad_(True)
            logits = model(x).float()
            activations = [slot[-1] for slot in recorded]
            score = logits[:, target].sum()  # samples are independent (eval mode), so sum = per-sample
            gradients = torch.autograd.grad(score, activations, create_graph=create_graph)
    finally:
        for handle in handles:
            handle.remove()
    return Capture(logits=logits, activations=activations, gradients=list(gradients))
