"""Trainable skeleton encoders: a spatial-temporal graph network (ST-GCN) and a plain
temporal CNN over the same input, so that a report can show what the graph adds.

Both take the normalised skeleton batch ``(B, T, M, J, C)`` float32 of
:func:`harfuse.skeleton.normalise.normalise_track` (coordinates in torso lengths, absent
bodies all 0) and return ``(B, out_dim)``, ``out_dim`` the last of ``channels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import torch
import torch.nn.functional as F
from torch import nn

from harfuse.skeleton.formats import JointFormat, format_for_joints, joint_format
from harfuse.skeleton.graph import spatial_adjacency


def _resolve_format(name: str | None, joints: int) -> JointFormat:
    """Format ``name``, or the one registered format with ``joints`` joints; checks ``J``."""
    fmt = format_for_joints(joints) if name is None else joint_format(name)
    if fmt.num_joints != joints:
        raise ValueError(f"joint format {fmt.name} has {fmt.num_joints} joints, input {joints}")
    return fmt


def _block_strides(channels: Sequence[int], strides: Sequence[int] | None) -> list[int]:
    """Temporal stride of each block: as given, or (ST-GCN's choice) 2 at each block after
    the first that widens the channels, 1 elsewhere."""
    if strides is None:
        return [2 if i and c > channels[i - 1] else 1 for i, c in enumerate(channels)]
    if len(strides) != len(channels):
        raise ValueError(f"{len(strides)} strides for {len(channels)} blocks")
    return list(strides)


def _check_kernel(kernel: int) -> None:
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"temporal_kernel must be odd (same padding), got {kernel}")


class STGCNBlock(nn.Module):
    """One ST-GCN unit on ``(N, C_in, T, J)`` -> ``(N, C_out, T / stride, J)``.

    Spatial graph convolution (a 1x1 convolution to ``K`` partitions' worth of channels,
    each aggregated over the partition's adjacency times a learnable edge-importance mask),
    then BN, ReLU, a ``(kernel, 1)`` temporal convolution, BN, dropout; a residual (identity,
    or 1x1 convolution and BN when the shape changes) is added before the final ReLU.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        adjacency: torch.Tensor,
        temporal_kernel: int = 9,
        stride: int = 1,
        dropout: float = 0.0,
        residual: bool = True,
    ):
        super().__init__()
        _check_kernel(temporal_kernel)
        self.partitions = adjacency.shape[0]
        self.register_buffer("adjacency", adjacency)  # (K, J, J)
        self.importance = nn.Parameter(torch.ones_like(adjacency))
        self.spatial = nn.Conv2d(c_in, c_out * self.partitions, 1)
        self.temporal = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(
                c_out,
                c_out,
                (temporal_kernel, 1),
                stride=(stride, 1),
                padding=(temporal_kernel // 2, 0),
            ),
            nn.BatchNorm2d(c_out),
            nn.Dropout(dropout),
        )
        self.residual: nn.Module | None
        if not residual:
            self.residual = None
        elif c_in == c_out and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=(stride, 1)), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, j = x.shape
        y = self.spatial(x).view(n, self.partitions, -1, t, j)  # (N, K, C_out, T, J)
        y = torch.einsum("nkctv,kvw->nctw", y, self.adjacency * self.importance)  # (N, C_out, T, J)
        y = self.temporal(y)
        if self.residual is not None:
            y = y + self.residual(x)
        return F.relu(y)


class _SkeletonEncoder(nn.Module):
    """What both skeleton encoders share: construction from one sample's shape."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs: Any) -> Self:
        """The encoder for one sample's input ``shape``, ``(T, M, J, C)``."""
        _, bodies, joints, in_channels = shape
        return cls(joints=joints, bodies=bodies, in_channels=in_channels, **kwargs)


class SkeletonGCNEncoder(_SkeletonEncoder):
    """ST-GCN (Yan et al., AAAI 2018) with the spatial-partition graph of the joint format:
    ``(B, T, M, J, C)`` -> ``(B, channels[-1])``.

    Input BatchNorm over the ``M·J·C`` coordinates (ST-GCN's ``data_bn``), ST-GCN blocks
    (:class:`STGCNBlock`; the first without residual), global average pooling over time and
    joints. Bodies are folded into the batch and their features averaged over the bodies
    present in the sample (those not all 0), so a one-person sample in a two-body dataset is
    not diluted by its empty slot.
    """

    def __init__(
        self,
        joints: int,
        bodies: int,
        in_channels: int,
        joint_format: str | None = None,
        channels: Sequence[int] = (32, 64, 64),
        temporal_kernel: int = 9,
        strides: Sequence[int] | None = None,
        dropout: float = 0.2,
    ):
        """``joint_format``: a name in :data:`~harfuse.skeleton.formats.FORMATS`, or None for
        the one format with ``joints`` joints. ``channels``: the width of each block (its
        length the depth). ``strides``: temporal stride per block (default: 2 where the
        width grows)."""
        super().__init__()
        fmt = _resolve_format(joint_format, joints)
        adjacency = torch.tensor(spatial_adjacency(fmt))  # (3, J, J)
        self.data_bn = nn.BatchNorm1d(bodies * joints * in_channels)
        widths = [in_channels, *channels]
        self.blocks = nn.Sequential(
            *(
                STGCNBlock(c_in, c_out, adjacency, temporal_kernel, s, dropout, residual=i > 0)
                for i, (c_in, c_out, s) in enumerate(
                    zip(widths[:-1], widths[1:], _block_strides(channels, strides), strict=True)
                )
            )
        )
        self.joint_format = fmt.name
        self.out_dim = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, m, j, c = x.shape
        present = x.ne(0).any(dim=4).any(dim=3).any(dim=1)  # (B, M)
        y = x.permute(0, 2, 3, 4, 1).reshape(b, m * j * c, t)  # (B, M·J·C, T)
        y = self.data_bn(y).view(b, m, j, c, t)  # (B, M, J, C, T)
        y = y.permute(0, 1, 3, 4, 2).reshape(b * m, c, t, j)  # (B·M, C, T, J)
        y = self.blocks(y).mean(dim=(2, 3)).view(b, m, -1)  # (B, M, D)
        # a sample with no body at all averages its (empty) slots alike
        weight = torch.where(present.any(dim=1, keepdim=True), present, True).to(y.dtype)
        return (y * weight.unsqueeze(-1)).sum(dim=1) / weight.sum(dim=1, keepdim=True)


class SkeletonTCNEncoder(_SkeletonEncoder):
    """Temporal-CNN baseline without the graph: ``(B, T, M, J, C)`` -> ``(B, channels[-1])``.

    The ``M·J·C`` coordinates of a frame are the input channels of a Conv1d stack over
    time (input BatchNorm, then per block a ``kernel`` convolution, BN, ReLU, dropout),
    globally average-pooled. With the same ``channels`` its parameter count is close to
    :class:`SkeletonGCNEncoder`'s, so the two compare the graph, not the capacity.
    """

    def __init__(
        self,
        joints: int,
        bodies: int,
        in_channels: int,
        joint_format: str | None = None,
        channels: Sequence[int] = (32, 64, 64),
        temporal_kernel: int = 9,
        strides: Sequence[int] | None = None,
        dropout: float = 0.2,
    ):
        """Arguments as :class:`SkeletonGCNEncoder`'s; ``joint_format`` only checks ``J``."""
        super().__init__()
        _check_kernel(temporal_kernel)
        self.joint_format = _resolve_format(joint_format, joints).name
        flat = bodies * joints * in_channels
        layers: list[nn.Module] = [nn.BatchNorm1d(flat)]
        widths = [flat, *channels]
        for c_in, c_out, s in zip(
            widths[:-1], widths[1:], _block_strides(channels, strides), strict=True
        ):
            layers += [
                nn.Conv1d(c_in, c_out, temporal_kernel, stride=s, padding=temporal_kernel // 2),
                nn.BatchNorm1d(c_out),
                nn.ReLU(),
                nn.Dropout(dropout),
            ]
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_dim = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        return self.net(x.permute(0, 2, 3, 4, 1).reshape(b, -1, t))  # (B, M·J·C, T)
