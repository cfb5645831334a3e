"""torchvision backbones fine-tuned end to end from frames, block by named block.

A variant's ``options.backbone`` (``{arch, weights, blocks, lr_scale, num_frames,
input_size, test_clips, checkpointing}``) makes its ``rgb`` modality read clips of frames
``(B, T, H, W, 3)`` uint8 from the frame shards instead of cached features: the backbone
turns them into ``(B, T', D)`` features (``T' = T`` per-frame CNNs, ``1`` clip CNNs) for
the variant's rgb encoder, and trains the ``blocks`` it names.

Blocks not named are frozen for good: their parameters become buffers (no gradient, in
no optimiser, still in the state dict), and their BatchNorm layers stay in eval mode, so
their running statistics never move.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from harfuse.encoders.backbones import (
    BACKBONE_DIMS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    KINETICS_MEAN,
    KINETICS_STD,
    BackboneSpec,
)
from harfuse.encoders.frozen import headless

_RESNET = ["stem", "layer1", "layer2", "layer3", "layer4"]
_S3D = [  # the S3D paper's names for torchvision's ``features[i]`` (pools hold no weights)
    "Conv_1a", "MaxPool_2a", "Conv_2b", "Conv_2c", "MaxPool_3a", "Mixed_3b", "Mixed_3c",
    "MaxPool_4a", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f", "MaxPool_5a",
    "Mixed_5b", "Mixed_5c",
]  # fmt: skip
_VGG16 = {"conv1": (0, 5), "conv2": (5, 10), "conv3": (10, 17), "conv4": (17, 24)}


def named_blocks(arch: str, net: nn.Module) -> dict[str, list[nn.Module]]:
    """Block name -> the modules of headless torchvision ``net``, in forward order: ResNets
    (2D and 3D) ``stem, layer1..4``; S3D ``Conv_1a .. Mixed_5c``; VGG16 ``conv1..5, fc6,
    fc7``."""
    if arch in ("resnet18", "resnet50"):
        return {
            "stem": [net.conv1, net.bn1],
            **{name: [getattr(net, name)] for name in _RESNET[1:]},
        }
    if arch in ("r3d_18", "r2plus1d_18"):
        return {name: [getattr(net, name)] for name in _RESNET}
    if arch == "s3d":
        return {name: [net.features[i]] for i, name in enumerate(_S3D)}
    if arch == "vgg16":
        blocks = {n: list(net.features[a:b]) for n, (a, b) in _VGG16.items()}
        blocks["conv5"] = list(net.features[24:])
        blocks["fc6"] = list(net.classifier[:3])
        blocks["fc7"] = list(net.classifier[3:])
        return blocks
    raise ValueError(f"unknown backbone {arch!r}; known: {sorted(BACKBONE_DIMS)}")


def _freeze(module: nn.Module) -> None:
    """Turn ``module``'s own parameters into buffers of the same name (recursively)."""
    for sub in module.modules():
        for name, param in list(sub.named_parameters(recurse=False)):
            del sub._parameters[name]
            sub.register_buffer(name, param.detach())


@contextlib.contextmanager
def _frozen_statistics(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers of ``module`` normalise as usual but do not update their running
    statistics (momentum 0, batch count restored): the recomputation of a checkpointed
    block must not count its batch twice."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [
        (m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone())
        for m in norms
    ]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved, strict=True):
            m.momentum = momentum
            if count is not None:
                m.num_batches_tracked.copy_(count)


def _checkpoint_forward(module: nn.Module) -> None:
    """Make ``module`` recompute its activations in the backward pass instead of keeping
    them (its forward wrapped: parameter names unchanged). In-place ReLUs become
    out-of-place, as recomputation needs the inputs they would overwrite."""
    for m in module.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    forward = module.forward

    def contexts() -> tuple[contextlib.AbstractContextManager, ...]:
        return contextlib.nullcontext(), _frozen_statistics(module)  # forward, recompute

    def checkpointed(x: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            return forward(x)
        return checkpoint(forward, x, use_reentrant=False, context_fn=contexts)

    module.forward = checkpointed


class TunedBackbone(nn.Module):
    """``(B, T, H, W, 3)`` uint8 clips -> ``(B, T', D)`` features, trained in the blocks
    ``spec.blocks`` names (the others frozen as buffers, their BatchNorm in eval)."""

    def __init__(self, spec: BackboneSpec):
        super().__init__()
        if spec.arch not in BACKBONE_DIMS:
            raise ValueError(f"unknown backbone {spec.arch!r}; known: {sorted(BACKBONE_DIMS)}")
        self.spec = spec
        mean, std = (
            (IMAGENET_MEAN, IMAGENET_STD) if spec.per_frame else (KINETICS_MEAN, KINETICS_STD)
        )
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        weights = "none" if spec.init_from else spec.weights  # copy_backbone fills it
        self.net = headless(spec.arch, weights, spec.allow_download)
        self.net.requires_grad_(True)
        blocks = named_blocks(spec.arch, self.net)
        chosen = self.tuned_names(spec.blocks, list(blocks))
        # a plain list: the modules are registered once, inside ``net``
        self.frozen_modules: list[nn.Module] = []
        for name, modules in blocks.items():
            if name not in chosen:
                for m in modules:
                    _freeze(m)
                    self.frozen_modules.append(m)
        if spec.checkpointing:
            self._checkpoint(blocks, chosen)
        self.out_dim = BACKBONE_DIMS[spec.arch]

    @staticmethod
    def tuned_names(blocks: str | Sequence[str], names: list[str]) -> list[str]:
        """The block names ``blocks`` (``all``, ``none`` or a list) selects; an unknown
        name is an error listing the valid ones."""
        if blocks == "all":
            return names
        if blocks == "none":
            return []
        if isinstance(blocks, str):
            raise ValueError(f"backbone blocks: {blocks!r} is not all, none or a list of names")
        unknown = [b for b in blocks if b not in names]
        if unknown:
            raise ValueError(
                f"backbone blocks: {', '.join(unknown)} not blocks of this backbone "
                f"(blocks: {', '.join(names)})"
            )
        return list(blocks)

    @staticmethod
    def _checkpoint(blocks: dict[str, list[nn.Module]], chosen: list[str]) -> None:
        for name in chosen:
            for module in blocks[name]:
                _checkpoint_forward(module)

    def train(self, mode: bool = True) -> TunedBackbone:
        super().train(mode)
        for m in self.frozen_modules:
            m.eval()  # frozen BatchNorm statistics never update
        return self

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, t = clips.shape[:2]
        x = clips.reshape(b * t, *clips.shape[2:]).permute(0, 3, 1, 2).float() / 255.0
        x = (x - self.mean) / self.std  # (B*T, 3, H, W)
        if self.spec.per_frame:
            return self.net(x).reshape(b, t, -1)  # (B, T, D)
        x = x.reshape(b, t, *x.shape[1:]).transpose(1, 2)  # (B, 3, T, H, W)
        return self.net(x).reshape(b, 1, -1)  # (B, 1, D)


class BackboneThen(nn.Module):
    """A :class:`TunedBackbone` followed by a feature encoder (the variant's rgb
    encoder): clips ``(B, T, H, W, 3)``, or ``(B, C, T, H, W, 3)`` for ``C`` test clips
    whose features are averaged, -> ``(B, out_dim)``."""

    def __init__(self, backbone: TunedBackbone, encoder: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.encoder = encoder
        self.out_dim = encoder.out_dim

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        if clips.dim() == 6:  # several test clips per sample
            b, c = clips.shape[:2]
            feats = self.encoder(self.backbone(clips.flatten(0, 1)))
            return feats.reshape(b, c, -1).mean(1)
        return self.encoder(self.backbone(clips))


def copy_backbone(source: nn.Module, target: nn.Module) -> None:
    """Load the :class:`TunedBackbone` of ``target`` with the weights and BatchNorm
    statistics of the one in ``source`` (a trained model of another variant). Each must hold
    exactly one, of the same arch; which blocks either trains does not matter (frozen
    parameters keep their names as buffers)."""

    def only(model: nn.Module, which: str) -> TunedBackbone:
        found = [m for m in model.modules() if isinstance(m, TunedBackbone)]
        if len(found) != 1:
            raise ValueError(f"the {which} model has {len(found)} fine-tuned backbones, not 1")
        return found[0]

    src, dst = only(source, "source"), only(target, "target")
    if src.spec.arch != dst.spec.arch:
        raise ValueError(f"backbone {dst.spec.arch} cannot start from a {src.spec.arch}")
    dst.load_state_dict(src.state_dict())


def lr_groups(params: Sequence[nn.Parameter], model: nn.Module, lr: float) -> list[dict]:
    """Optimiser groups of ``params``: those of a :class:`TunedBackbone` at ``lr`` times
    its ``lr_scale``, the rest at ``lr`` (empty groups left out)."""
    scale = {
        id(p): m.spec.lr_scale
        for m in model.modules()
        if isinstance(m, TunedBackbone)
        for p in m.parameters()
    }
    groups: dict[float, list[nn.Parameter]] = {}
    for p in params:
        groups.setdefault(scale.get(id(p), 1.0), []).append(p)
    return [{"params": ps, "lr": lr * s} for s, ps in sorted(groups.items(), reverse=True)]
