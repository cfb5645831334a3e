import pytest
import torch

from harfuse.fusion import MODELS, create_model

SHAPES = {"rgb": (6, 16), "flow": (4, 16, 16, 2), "audio": (24, 30), "imu": (40, 6)}
CONFIGS = [
    ("single", ["rgb"]),
    ("single", ["flow"]),
    ("single", ["audio"]),
    ("single", ["imu"]),
    ("mid", ["rgb", "audio"]),
    ("mid", list(SHAPES)),
    ("late", ["flow", "imu"]),
    ("late", list(SHAPES)),
]
K = 5


def batch(modalities, b=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {m: torch.randn(b, *SHAPES[m], generator=g) for m in modalities}


def test_every_model_is_covered():
    assert {name for name, _ in CONFIGS} == set(MODELS)


@pytest.mark.parametrize(("name", "modalities"), CONFIGS)
def test_forward_backward(name, modalities):
    torch.manual_seed(0)
    model = create_model(name, {m: SHAPES[m] for m in modalities}, K)
    x = batch(modalities)
    scores = model(x)
    assert scores.shape == (4, K) and torch.isfinite(scores).all()
    loss = model.loss(x, torch.tensor([0, 1, 2, 3]))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    ("name", "modalities"), [("single", ["imu"]), ("mid", list(SHAPES)), ("late", ["rgb", "audio"])]
)
def test_one_batch_overfit(name, modalities):
    torch.manual_seed(0)
    model = create_model(name, {m: SHAPES[m] for m in modalities}, K)
    x, y = batch(modalities, b=8), torch.arange(8) % K
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        model.loss(x, y).backward()
        opt.step()
    model.eval()
    assert (model(x).argmax(1) == y).all()


def test_late_fusion_averages_branch_probabilities():
    torch.manual_seed(0)
    model = create_model("late", {m: SHAPES[m] for m in ("rgb", "imu")}, K).eval()
    x = batch(["rgb", "imu"])
    branches = model.branch_logits(x)
    expected = (branches["rgb"].softmax(-1) + branches["imu"].softmax(-1)) / 2
    torch.testing.assert_close(model(x).softmax(-1), expected)


def test_model_errors():
    with pytest.raises(ValueError, match="unknown model 'early'"):
        create_model("early", SHAPES, K)
    with pytest.raises(ValueError, match="takes one modality"):
        create_model("single", SHAPES, K)
    with pytest.raises(ValueError, match="unknown modality 'depth'"):
        create_model("single", {"depth": (3,)}, K)


def test_variant_chooses_its_encoders():
    torch.manual_seed(0)
    shapes = {"flow": (4, 32, 32, 2), "audio": (24, 30)}
    model = create_model(
        "mid", shapes, K, encoders={"flow": "flow_3dcnn", "audio": "audio_resnet18"}
    )
    assert type(model.encoders["flow"]).__name__ == "Flow3DEncoder"
    assert type(model.encoders["audio"]).__name__ == "AudioResNetEncoder"
    x = {m: torch.randn(2, *s) for m, s in shapes.items()}
    assert model(x).shape == (2, K)
    late = create_model("late", {"flow": shapes["flow"]}, K, encoders={"flow": "flow_resnet18"})
    assert type(late.branches["flow"].encoder).__name__ == "FlowResNetEncoder"
    with pytest.raises(ValueError, match=r"'resnet18' is not a trainable flow encoder"):
        create_model("single", {"flow": shapes["flow"]}, K, encoders={"flow": "resnet18"})
