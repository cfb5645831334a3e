import pytest
import torch

from harfuse.encoders import ENCODERS, create_encoder
from harfuse.encoders.weights import WeightsNotFoundError

#: encoder -> (constructor kwargs, one input batch, documented feature size)
CASES = {
    "resnet18": (
        {"weights": "none"},
        torch.randint(0, 255, (2, 3, 32, 32, 3), dtype=torch.uint8),
        512,
    ),
    "resnet50": (
        {"weights": "none"},
        torch.randint(0, 255, (1, 2, 32, 32, 3), dtype=torch.uint8),
        2048,
    ),
    "feature_sequence": ({"in_dim": 16}, torch.randn(2, 5, 16), 128),
    "stacked_flow": ({"length": 4}, torch.randn(2, 4, 24, 24, 2), 64),
    "logmel_cnn": ({}, torch.randn(2, 32, 40), 64),
    "imu_cnn1d": ({"channels": 6}, torch.randn(2, 50, 6), 64),
}


def test_every_registered_encoder_has_a_case():
    assert set(CASES) == set(ENCODERS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoder_forward_shape_and_finite(name):
    torch.manual_seed(0)
    kwargs, x, dim = CASES[name]
    enc = create_encoder(name, **kwargs).eval()
    out = enc(x)
    temporal = name.startswith("resnet")
    assert out.shape == ((*x.shape[:2], dim) if temporal else (x.shape[0], dim))
    assert enc.out_dim == dim
    assert torch.isfinite(out).all()


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


def test_weights_from_cache_and_from_path(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(1)
    state = torchvision.models.resnet18().state_dict()
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)
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
