"""Finding, in any CNN, the layers the pathology-aware visualiser and CAM read, by running it once.

The paper's method needs feature maps of chosen layers, not a particular architecture. Its layers are
found by tracing one forward pass of a blank input:

- the **spatial chain**: starting at the network, while exactly one child container produces spatial
  maps (torchvision's ``features`` of DenseNet, VGG, EfficientNet, ConvNeXt), descend into it; the chain
  is that module's children in the order they ran;
- a **stage** is the last module of the chain at each resolution (the end of a block: ResNet's
  ``layer1`` .. ``layer4``, DenseNet's dense blocks), not counting normalisation layers that only
  close the chain (DenseNet's ``norm5``) nor 1 x 1 maps (global pooling);
- the default visualised layers are the last three stages with more than one pixel, the CAM layer the
  last of them.

Whether Grad-CAM is the true CAM (Zhou et al.) is measured, not assumed: it is when the glaucoma logit
is a GAP + linear function of the CAM layer's maps, i.e. its gradient with respect to them is the same
at every position and for any input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

_NORMS = (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d, nn.Identity)


@dataclass(frozen=True)
class TracedLayers:
    stages: tuple[str, ...]  # every stage, shallow to deep (what a user may pick)
    default: tuple[str, ...]  # the last three spatial stages
    cam: str  # the last spatial stage
    grids: dict  # stage -> (height, width) at the traced input size


def _spatial_outputs(network: nn.Module, x: torch.Tensor) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """Every module's name in the order its forward finished, and the spatial size of its 4-D outputs."""
    order, sizes, handles = [], {}, []
    for name, module in network.named_modules():
        def hook(_module, _inputs, output, name=name):
            order.append(name)
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                sizes[name] = tuple(output.shape[-2:])
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            network(x)
    finally:
        for handle in handles:
            handle.remove()
    return order, sizes


def trace_layers(network: nn.Module, input_size: int, prefix: str = "") -> TracedLayers:
    """The stages of ``network`` for a 3 x ``input_size`` x ``input_size`` input; names get ``prefix``."""
    was_training = network.training
    network.eval()
    try:
        order, sizes = _spatial_outputs(network, torch.zeros(1, 3, input_size, input_size))
    finally:
        network.train(was_training)
    position = {name: i for i, name in enumerate(order)}
    chain_root = ""
    while True:
        module = network.get_submodule(chain_root) if chain_root else network
        children = [f"{chain_root}.{n}" if chain_root else n for n, _ in module.named_children()]
        # containers only: VGG's adaptive pooling after ``features`` is spatial too, but is one layer
        spatial = [c for c in children if c in sizes and sizes[c][0] * sizes[c][1] > 1 and any(True for _ in network.get_submodule(c).children())]
        if len(spatial) == 1:
            chain_root = spatial[0]
            continue
        chain = sorted((c for c in children if c in sizes), key=position.get)
        break
    if not chain:
        raise ValueError("the network produces no spatial feature maps: nothing to visualise")
    while len(chain) > 1 and isinstance(network.get_submodule(chain[-1]), _NORMS):
        chain = chain[:-1]  # a norm that only closes the chain is not a stage of its own
    stages = [name for name, following in zip(chain, chain[1:] + [None]) if following is None or sizes[following] != sizes[name]]
    stages = [s for s in stages if sizes[s][0] * sizes[s][1] > 1] or stages[-1:]  # a 1 x 1 map has no place
    named = lambda names: tuple(prefix + n for n in names)  # noqa: E731
    return TracedLayers(
        stages=named(stages),
        default=named(stages[-3:]),
        cam=prefix + stages[-1],
        grids={prefix + s: sizes[s] for s in stages},
    )


def head_is_gap_linear(model: nn.Module, layer: str, input_size: int, class_index: int, seed: int = 0) -> bool:
    """Is the logit ``class_index`` a GAP + linear function of ``layer``'s maps? Then its gradient with
    respect to them is constant over positions and the same for two different inputs."""
    module = model.get_submodule(layer)
    captured = []
    handle = module.register_forward_hook(lambda _m, _i, output: captured.append(output))
    gradients = []
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        for _ in range(2):
            captured.clear()
            x = torch.rand(1, 3, input_size, input_size, generator=generator).requires_grad_(True)  # frozen weights: the graph starts here
            with torch.enable_grad():
                logits = model(x)
                (gradient,) = torch.autograd.grad(logits[0, class_index], captured[-1])
            gradients.append(gradient[0])
    finally:
        handle.remove()
        model.train(was_training)
    first, second = gradients
    scale = float(first.abs().max()) or 1.0
    uniform = float((first - first.mean(dim=(-2, -1), keepdim=True)).abs().max()) <= 1e-4 * scale
    return uniform and float((first - second).abs().max()) <= 1e-4 * scale
