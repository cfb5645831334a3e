import pytest
import torch

from harfuse.encoders import ENCODERS, create_encoder
from harfuse.weights import WeightsNotFoundError


def video(b: int, t: int, size: int) -> torch.Tensor:
    return torch.randint(0, 255, (b, t, size, size, 3), dtype=torch.uint8)


#: a two-body Kinect v2 (NTU RGB+D) skeleton, (T, M, J, C) = (16, 2, 25, 3)
SKELETON = {"joints": 25, "bodies": 2, "in_channels": 3}

#: encoder -> (constructor kwargs, one input batch, output shape, documented feature size)
CASES = {
    "resnet18": ({"weights": "none"}, video(2, 3, 32), (2, 3, 512), 512),
    "resnet50": ({"weights": "none"}, video(1, 2, 32), (1, 2, 2048), 2048),
    "vgg16": ({"weights": "none"}, video(1, 1, 32), (1, 1, 4096), 4096),
    "r3d_18": ({"weights": "none"}, video(2, 4, 32), (2, 1, 512), 512),
    "r2plus1d_18": ({"weights": "none"}, video(1, 4, 32), (1, 1, 512), 512),
    "s3d": ({"weights": "none"}, video(1, 14, 224), (1, 1, 1024), 1024),  # its fixed size
    "feature_sequence": ({"in_dim": 16}, torch.randn(2, 5, 16), (2, 128), 128),
    "feature_lstm": ({"in_dim": 16}, torch.randn(2, 5, 16), (2, 128), 128),
    "stacked_flow": ({"length": 4}, torch.randn(2, 4, 24, 24, 2), (2, 64), 64),
    "flow_resnet18": ({"length": 4}, torch.randn(2, 4, 32, 32, 2), (2, 512), 512),
    "flow_3dcnn": ({}, torch.randn(2, 4, 24, 24, 2), (2, 128), 128),
    "logmel_cnn": ({}, torch.randn(2, 32, 40), (2, 64), 64),
    "audio_resnet18": ({}, torch.randn(2, 32, 40), (2, 512), 512),
    "imu_cnn1d": ({"channels": 6}, torch.randn(2, 50, 6), (2, 64), 64),
    "skeleton_gcn": (SKELETON, torch.randn(2, 16, 2, 25, 3), (2, 64), 64),
    "skeleton_tcn": (SKELETON, torch.randn(2, 16, 2, 25, 3), (2, 64), 64),
    "depth_cnn": ({}, torch.rand(2, 6, 32, 32) * 3, (2, 64), 64),
}


def test_every_registered_encoder_has_a_case():
    assert set(CASES) == set(ENCODERS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoder_forward_shape_and_finite(name):
    torch.manual_seed(0)
    kwargs, x, shape, dim = CASES[name]
    enc = create_encoder(name, **kwargs).eval()
    out = enc(x)
    assert out.shape == shape and enc.out_dim == dim
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "name",
    [
        "flow_resnet18",
        "flow_3dcnn",
        "audio_resnet18",
        "imu_cnn1d",
        "skeleton_gcn",
        "skeleton_tcn",
        "depth_cnn",
    ],
)
def test_trainable_encoders_train(name):
    torch.manual_seed(0)
    kwargs, x, _, _ = CASES[name]
    enc = create_encoder(name, **kwargs).train()
    enc(x).pow(2).mean().backward()
    grads = [p.grad for p in enc.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_video_encoder_metadata():
    s3d = create_encoder("s3d", weights="none")
    assert s3d.clip_len == 14 and s3d.crop == (224, 224)
    r3d = create_encoder("r3d_18", weights="none")
    assert r3d.crop == (112, 112) and not any(p.requires_grad for p in r3d.parameters())


@pytest.fixture
def cached_resnet18(tmp_path, monkeypatch) -> dict:
    """A random ResNet-18 state dict where torch's cache keeps the ImageNet file."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(2)
    state = torchvision.models.resnet18().state_dict()
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
    return state


def test_cross_modality_init_from_imagenet(cached_resnet18):
    state = cached_resnet18
    enc = create_encoder("flow_resnet18", length=3, weights="imagenet")
    expected = state["conv1.weight"].mean(dim=1, keepdim=True).repeat(1, 6, 1, 1)
    torch.testing.assert_close(enc.net.conv1.weight, expected)
    torch.testing.assert_close(enc.net.layer1[0].conv1.weight, state["layer1.0.conv1.weight"])


def test_frame_encoder_is_frozen():
    enc = create_encoder("resnet18", weights="none")
    enc.train()
    assert not enc.training and not enc.backbone.training
    assert not any(p.requires_grad for p in enc.parameters())


def test_missing_named_weights_say_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(WeightsNotFoundError) as err:
        create_encoder("resnet18", weights="imagenet")
    assert str(expected) in str(err.value)
    assert "download https://download.pytorch.org/models/resnet18-f37072fd.pth" in str(err.value)


def test_weights_from_cache_and_from_path(cached_resnet18, tmp_path):
    state = cached_resnet18
    own = tmp_path / "mine.pth"
    torch.save(state, own)
    for weights in ("imagenet", str(own)):
        enc = create_encoder("resnet18", weights=weights)
        assert torch.equal(enc.backbone.conv1.weight, state["conv1.weight"])
    with pytest.raises(WeightsNotFoundError, match=r"nothere\.pth"):
        create_encoder("resnet18", weights=str(tmp_path / "nothere.pth"))


def test_unknown_encoder():
    with pytest.raises(ValueError, match="unknown encoder 'vit'"):
        create_encoder("vit")


def test_download_only_when_allowed(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    calls = []
    state = torchvision.models.resnet18().state_dict()

    def fake_download(url, **kwargs):  # stands in for the network: tests never download
        calls.append(url)
        return state

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_download)
    with pytest.raises(WeightsNotFoundError):
        create_encoder("resnet18", weights="imagenet")
    assert calls == []
    enc = create_encoder("resnet18", weights="imagenet", allow_download=True)
    assert calls == ["https://download.pytorch.org/models/resnet18-f37072fd.pth"]
    assert torch.equal(enc.backbone.conv1.weight, state["conv1.weight"])


@pytest.mark.parametrize("arch", ["resnet18", "r3d_18", "s3d"])
def test_channels_last_format_fits_each_backbone(arch):
    """What the features stage applies on CUDA: video backbones take channels_last_3d."""
    from harfuse.encoders.extract import channels_last

    enc = create_encoder(arch, weights="none")
    enc.backbone.to(memory_format=channels_last(enc.backbone))  # raises for a wrong rank
    expected = torch.channels_last if arch == "resnet18" else torch.channels_last_3d
    assert channels_last(enc.backbone) == expected
