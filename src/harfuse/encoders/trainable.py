"""Small trainable encoders, one per modality, each mapping a batch to ``(B, out_dim)``.

Each has ``out_dim`` and ``from_shape(shape)``: the encoder for one sample's input shape
(how models build the encoder a variant names, without a table of their arguments)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class FeatureSequenceEncoder(nn.Module):
    """Cached frame features ``(B, T, D_in)`` -> temporal mean and std -> MLP ``(B, out_dim)``."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> FeatureSequenceEncoder:
        """The encoder for one sample's input ``shape``, ``(T, D_in)``: ``in_dim`` from D_in."""
        return cls(**{"in_dim": shape[-1]}, **kwargs)

    def __init__(self, in_dim: int, out_dim: int = 128, dropout: float = 0.2):
        super().__init__()
        self.norm = nn.LayerNorm(2 * in_dim)
        self.proj = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * in_dim, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = torch.cat([x.mean(dim=1), x.std(dim=1, unbiased=False)], dim=-1)  # (B, 2*D_in)
        return self.proj(self.norm(stats))


class FeatureLSTMEncoder(nn.Module):
    """CNN-LSTM head over cached per-frame features: ``(B, T, D_in)`` -> LayerNorm ->
    linear -> one-layer LSTM -> last hidden state ``(B, out_dim)``."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> FeatureLSTMEncoder:
        """The encoder for one sample's input ``shape``, ``(T, D_in)``: ``in_dim`` from D_in."""
        return cls(**{"in_dim": shape[-1]}, **kwargs)

    def __init__(self, in_dim: int, out_dim: int = 128, dropout: float = 0.2):
        super().__init__()
        self.inp = nn.Sequential(
            nn.LayerNorm(in_dim), nn.Dropout(dropout), nn.Linear(in_dim, out_dim), nn.ReLU()
        )
        self.lstm = nn.LSTM(out_dim, out_dim, batch_first=True)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.inp(x))  # h: (1, B, out_dim)
        return h[-1]


def _conv2d_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class StackedFlowEncoder(nn.Module):
    """Stacked optical flow (two-stream style): ``(B, L, H, W, 2)`` px -> ``(B, out_dim)``.

    The ``L`` flow fields are stacked as ``2L`` input channels of a small 2D CNN.
    """

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> StackedFlowEncoder:
        """The encoder for one sample's input ``shape``, ``(L, H, W, 2)``: ``length`` from L."""
        return cls(**{"length": shape[0]}, **kwargs)

    def __init__(self, length: int, out_dim: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            _conv2d_block(2 * length, 32),
            _conv2d_block(32, 64),
            _conv2d_block(64, out_dim),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.out_dim = out_dim

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        b, length, h, w, _ = flow.shape
        x = flow.permute(0, 1, 4, 2, 3).reshape(b, 2 * length, h, w)  # (B, 2L, H, W)
        return self.net(x)


class LogMelEncoder(nn.Module):
    """Log-mel spectrogram ``(B, n_mels, F)`` dB -> small 2D CNN -> ``(B, out_dim)``."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> LogMelEncoder:
        """The encoder for one sample's input ``shape``, any log-mel; nothing depends on it."""
        return cls(**{}, **kwargs)

    def __init__(self, out_dim: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.BatchNorm2d(1),
            _conv2d_block(1, 16),
            _conv2d_block(16, 32),
            _conv2d_block(32, out_dim),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.out_dim = out_dim

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel.unsqueeze(1))  # (B, 1, n_mels, F)


class IMUEncoder(nn.Module):
    """The 1D CNN of the UTD-MHAD / MMAct video+IMU work: three conv blocks with kernels
    24, 16 and 8, ReLU and dropout. ``(B, T, C)`` -> ``(B, out_dim)``."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> IMUEncoder:
        """The encoder for one sample's input ``shape``, ``(T, C)``: ``channels`` from C."""
        return cls(**{"channels": shape[-1]}, **kwargs)

    def __init__(self, channels: int, out_dim: int = 64, dropout: float = 0.2):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(channels)]
        widths = [channels, 32, 64, out_dim]
        for k, c_in, c_out in zip((24, 16, 8), widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv1d(c_in, c_out, k, padding=k // 2), nn.ReLU(), nn.Dropout(dropout)]
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim

    def forward(self, imu: torch.Tensor) -> torch.Tensor:
        return self.net(imu.transpose(1, 2))  # (B, C, T)


def _resnet18_with_inputs(channels: int, weights: str) -> nn.Module:
    """ResNet-18 whose first convolution takes ``channels`` inputs. With ImageNet weights
    the new filters are the RGB filters averaged over colour and repeated (the cross-modality
    initialisation of two-stream networks); the classifier is removed (512-d output)."""
    import torchvision

    from harfuse.weights import resolve_state_dict

    net = torchvision.models.resnet18(weights=None)
    state = resolve_state_dict("resnet18", weights)
    if state is not None:
        net.load_state_dict(state)
    rgb = net.conv1.weight.data  # (64, 3, 7, 7)
    net.conv1 = nn.Conv2d(channels, 64, 7, stride=2, padding=3, bias=False)
    if state is not None:
        net.conv1.weight.data = rgb.mean(dim=1, keepdim=True).repeat(1, channels, 1, 1)
    net.fc = nn.Identity()
    return net


class FlowResNetEncoder(nn.Module):
    """Stacked-flow ResNet-18 (two-stream temporal stream): ``(B, L, H, W, 2)`` px ->
    ``(B, 512)``, with ``2L`` input channels."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> FlowResNetEncoder:
        """The encoder for one sample's input ``shape``, ``(L, H, W, 2)``: ``length`` from L."""
        return cls(**{"length": shape[0]}, **kwargs)

    def __init__(self, length: int, weights: str = "none"):
        super().__init__()
        self.net = _resnet18_with_inputs(2 * length, weights)
        self.out_dim = 512

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        b, length, h, w, _ = flow.shape
        return self.net(flow.permute(0, 1, 4, 2, 3).reshape(b, 2 * length, h, w))


class Flow3DEncoder(nn.Module):
    """Small 3D CNN on a flow volume: ``(B, L, H, W, 2)`` px -> ``(B, out_dim)``."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> Flow3DEncoder:
        """The encoder for one sample's input ``shape``, any flow volume; nothing depends on it."""
        return cls(**{}, **kwargs)

    def __init__(self, out_dim: int = 128):
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv3d(c_in, c_out, 3, stride=(1, 2, 2), padding=1),
                nn.BatchNorm3d(c_out),
                nn.ReLU(),
            )

        self.net = nn.Sequential(
            block(2, 32), block(32, 64), block(64, out_dim), nn.AdaptiveAvgPool3d(1), nn.Flatten()
        )
        self.out_dim = out_dim

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        return self.net(flow.permute(0, 4, 1, 2, 3))  # (B, 2, L, H, W)


class AudioResNetEncoder(nn.Module):
    """ResNet-18 with one input channel on a log-mel ``(B, n_mels, F)`` dB -> ``(B, 512)``."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> AudioResNetEncoder:
        """The encoder for one sample's input ``shape``, any log-mel; nothing depends on it."""
        return cls(**{}, **kwargs)

    def __init__(self, weights: str = "none"):
        super().__init__()
        self.norm = nn.BatchNorm2d(1)
        self.net = _resnet18_with_inputs(1, weights)
        self.out_dim = 512

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(mel.unsqueeze(1)))  # (B, 1, n_mels, F)
