"""Finding, in any CNN, the layers the pathology-aware visualiser and CAM read, by running it once.

The paper's method needs feature maps of chosen layers, not a particular architecture. Its layers are
found by tracing one forward pass of a blank input:

- the **spatial chain**: starting at the network, while exactly one child container produces spatial
  maps (torchvision's ``features`` of DenseNet, VGG, EfficientNet, ConvNeXt), descend into it; the chain
  is that module's children in the order they ran;
- a chain module whose sub-containers end at ever smaller resolutions (timm's ``blocks``, ``stages``)
  is replaced by its children;
- channels-last maps (Swin's B x H x W x C stages) are not feature maps here; a network with none in
  channels-first order (a vision transformer) is refused with a message;
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
    grids: dict[str, tuple[int, int]]  # stage -> (height, width) at the traced input size


def _channels_last(output: torch.Tensor) -> bool:
    """B x H x W x C maps (Swin's stages): the traced input is square, so its maps are square in H, W."""
    _, d1, d2, d3 = output.shape
    return d2 != d3 and d1 == d2


def _spatial_outputs(network: nn.Module, x: torch.Tensor) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """Every module's name in the order its forward finished, and the spatial size of its 4-D outputs.
    A layer fed the photo itself (a vision transformer's patch embedding) makes no feature maps here."""
    order: list[str] = []
    sizes: dict[str, tuple[int, int]] = {}
    handles = []
    for name, module in network.named_modules():

        def hook(_module, inputs, output, name=name):
            order.append(name)
            raw = bool(inputs) and inputs[0] is x and name != ""
            if (
                isinstance(output, torch.Tensor)
                and output.dim() == 4
                and not _channels_last(output)
                and not (raw and not any(True for _ in _module.children()))
            ):
                sizes[name] = (output.shape[-2], output.shape[-1])

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
        children = _children(module, chain_root, position)
        # containers only: VGG's adaptive pooling after ``features`` is spatial too, but is one layer
        spatial = [
            c
            for c in children
            if c in sizes and sizes[c][0] * sizes[c][1] > 1 and any(True for _ in network.get_submodule(c).children())
        ]
        if len(spatial) == 1:
            chain_root = spatial[0]
            continue
        chain = sorted((c for c in children if c in sizes), key=position.__getitem__)
        break
    chain = _expand(network, chain, sizes, position)
    if not chain:
        raise ValueError("the network produces no spatial feature maps (a vision transformer?): nothing to visualise")
    while len(chain) > 1 and _is_plain_norm(network.get_submodule(chain[-1])):
        chain = chain[:-1]  # a norm that only closes the chain is not a stage of its own
    stages = [
        name
        for name, following in zip(chain, [*chain[1:], None], strict=True)
        if following is None or sizes[following] != sizes[name]
    ]
    stages = [s for s in stages if sizes[s][0] * sizes[s][1] > 1] or stages[-1:]  # a 1 x 1 map has no place

    def named(names: list[str]) -> tuple[str, ...]:
        return tuple(prefix + n for n in names)

    return TracedLayers(
        stages=named(stages),
        default=named(stages[-3:]),
        cam=prefix + stages[-1],
        grids={prefix + s: sizes[s] for s in stages},
    )


def _children(module: nn.Module, name: str, position: dict[str, int]) -> list[str]:
    """The qualified names of ``module``'s children; a list that never runs itself (``nn.ModuleList``,
    MaxViT's ``blocks``) stands for its own children."""
    names = []
    for child_name, child in module.named_children():
        qualified = f"{name}.{child_name}" if name else child_name
        names.extend(
            _children(child, qualified, position)
            if qualified not in position and any(True for _ in child.children())
            else [qualified]
        )
    return names


def _expand(
    network: nn.Module, chain: list[str], sizes: dict[str, tuple[int, int]], position: dict[str, int]
) -> list[str]:
    """Replace each chain module whose sub-containers, run one after another, end at two or more ever
    smaller resolutions by its children (timm's ``blocks`` / ``stages`` beside a stem and a head),
    recursively; a block that only downsamples, a stage whose blocks all keep one resolution, and
    parallel branches stay whole."""
    expanded = []
    for name in chain:
        children = [c for c in _children(network.get_submodule(name), name, position) if c in sizes]
        containers = [
            c
            for c in children
            if any(True for _ in network.get_submodule(c).children()) and sizes[c][0] * sizes[c][1] > 1
        ]
        areas = [sizes[c][0] * sizes[c][1] for c in sorted(containers, key=position.__getitem__)]
        # shrinking in the order they ran: a sequence of stages, not parallel branches (Inception's)
        if len(set(areas)) >= 2 and all(a >= b for a, b in zip(areas, areas[1:], strict=False)):
            expanded.extend(_expand(network, sorted(children, key=position.__getitem__), sizes, position))
        else:
            expanded.append(name)
    return expanded


def _is_plain_norm(module: nn.Module) -> bool:
    """A normalisation layer with nothing inside; timm's norm + activation layers (``BatchNormAct2d``)
    hold their activation and give the network's activated last maps, a stage of their own."""
    return isinstance(module, _NORMS) and not any(True for _ in module.children())


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
            x = torch.rand(1, 3, input_size, input_size, generator=generator).requires_grad_(
                True
            )  # frozen weights: the graph starts here
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
