import pytest
import torch
from torch.utils.data import TensorDataset

from harfuse.fusion import MODELS, create_model
from harfuse.fusion.late import simplex_grid
from harfuse.fusion.single import last_layers
from harfuse.train.loop import TrainParams, predict, train_model

SHAPES = {
    "rgb": (6, 16),
    "flow": (4, 16, 16, 2),
    "audio": (24, 30),
    "imu": (40, 6),
    "depth": (4, 16, 16),
}
ALL = ["rgb", "flow", "audio", "imu"]  # early fusion's low-level sequences
#: (model, modalities, options): every model, every merge / combine, the CNN-LSTM
CONFIGS = [
    ("single", ["rgb"], {}),
    ("single", ["rgb"], {"encoders": {"rgb": "feature_lstm"}}),
    ("single", ["flow"], {}),
    ("single", ["audio"], {}),
    ("single", ["imu"], {}),
    ("single", ["depth"], {}),
    ("early", ALL, {}),
    ("early", ["rgb", "imu"], {}),
    ("mid", ["rgb", "audio"], {}),
    ("mid", ["depth", "imu"], {}),
    ("mid", ALL, {"merge": "gated"}),
    ("mid", ALL, {"merge": "attention"}),
    ("late", ["flow", "imu"], {"combine": "mean"}),
    ("late", ALL, {"combine": "weighted"}),
    ("late", ["rgb", "flow"], {"combine": "meta"}),
    ("two_stage", ["rgb", "imu"], {}),
    ("two_stage", ALL, {"finetune": "all"}),
]
IDS = [f"{n}-{'+'.join(m)}-{'-'.join(map(str, o.values()))}" for n, m, o in CONFIGS]
K = 5


def batch(modalities, b=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {m: torch.randn(b, *SHAPES[m], generator=g) for m in modalities}


def make(name, modalities, **options):
    torch.manual_seed(0)
    return create_model(name, {m: SHAPES[m] for m in modalities}, K, **options)


def test_every_model_is_covered():
    assert {name for name, _, _ in CONFIGS} == set(MODELS)


@pytest.mark.parametrize(("name", "modalities", "options"), CONFIGS, ids=IDS)
def test_forward_backward_in_every_phase(name, modalities, options):
    model = make(name, modalities, **options)
    x = batch(modalities)
    for phase in model.phases:
        model.set_phase(phase)
        model.zero_grad()
        scores = model(x)
        assert scores.shape == (4, K) and torch.isfinite(scores).all()
        model.loss(x, torch.tensor([0, 1, 2, 3])).backward()
        trained = [p for g in model.param_groups(1e-3) for p in g["params"]]
        assert trained and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trained)


@pytest.mark.parametrize(("name", "modalities", "options"), CONFIGS, ids=IDS)
def test_one_batch_overfit(name, modalities, options):
    x, y = batch(modalities, b=8), torch.arange(8) % K
    model = make(name, modalities, **options)
    data = TensorDataset(*x.values(), y)
    params = TrainParams(epochs=150, batch_size=8, lr=3e-3, weight_decay=0.0, val_fraction=0)
    train_model(model, DictDataset(data, modalities), params, torch.device("cpu"))
    if getattr(model, "needs_validation", False):  # meta: stack on the (memorised) batch
        model.tune_on_validation([(x, y)])
    model.eval()
    assert (model(x).argmax(1) == y).all()


class DictDataset(torch.utils.data.Dataset):
    """``TensorDataset(*modalities, labels)`` as the sample dicts training expects."""

    def __init__(self, data, modalities):
        self.data, self.modalities = data, modalities

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        *xs, y = self.data[i]
        return {**dict(zip(self.modalities, xs, strict=True)), "label": y}


def test_late_fusion_mean_averages_branch_probabilities():
    model = make("late", ["rgb", "imu"], combine="mean").eval()
    x = batch(["rgb", "imu"])
    branches = model.branch_logits(x)
    expected = (branches["rgb"].softmax(-1) + branches["imu"].softmax(-1)) / 2
    torch.testing.assert_close(model(x).softmax(-1), expected)


def test_simplex_grid():
    grid = simplex_grid(3, 0.5)
    assert grid.tolist() == [
        [0, 0, 1],
        [0, 0.5, 0.5],
        [0, 1, 0],
        [0.5, 0, 0.5],
        [0.5, 0.5, 0],
        [1, 0, 0],
    ]
    assert len(simplex_grid(4, 0.1)) == 286  # C(13, 3)


def held_out(model, informative: str, n=40, seed=1):
    """Validation batches on which only ``informative``'s branch scores the label high."""
    x = batch(model.modalities, b=n, seed=seed)
    y = torch.arange(n) % K
    with torch.no_grad():
        for branch in model.branches.values():
            branch.head.weight.zero_()
            branch.head.bias.zero_()
    # give the informative branch a head that reads the label from a planted feature
    enc = model.branches[informative].encoder
    feats = enc.eval()(x[informative])
    head = model.branches[informative].head
    with torch.no_grad():
        head.weight.copy_(torch.linalg.lstsq(feats, torch.eye(K)[y] * 10).solution.T)
    return x, y


def test_weighted_late_fusion_puts_the_weight_on_the_informative_branch():
    model = make("late", ["rgb", "imu"], combine="weighted").eval()
    x, y = held_out(model, "imu")
    model.tune_on_validation([(x, y)])
    assert model.weights.tolist() == pytest.approx([1.0, 0.0])  # modalities sorted: imu, rgb
    assert (model(x).argmax(1) == y).float().mean() > 0.9


def test_meta_classifier_is_fitted_on_held_out_predictions():
    model = make("late", ["rgb", "imu"], combine="meta").eval()
    x, y = held_out(model, "rgb")
    before = model.meta.weight.clone()
    model.tune_on_validation([(x, y)])
    assert not torch.equal(before, model.meta.weight)
    assert (model(x).argmax(1) == y).float().mean() > 0.9


def test_two_stage_phases_train_the_documented_parameters():
    model = make("two_stage", ["rgb", "imu"], finetune="last", encoder_lr_scale=0.1)
    assert model.phases == ("pretrain_imu", "pretrain_rgb", "fuse")  # one modality at a time
    model.set_phase("pretrain_imu")
    assert all(p.requires_grad for p in model.branches["imu"].parameters())
    assert not any(p.requires_grad for p in model.branches["rgb"].parameters())
    assert not any(p.requires_grad for p in model.head.parameters())
    model.set_phase("fuse")
    groups = model.param_groups(1e-3)
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]
    tuned = {id(p) for p in groups[1]["params"]}
    imu_last = {
        id(p) for layer in last_layers(model.branches["imu"].encoder) for p in layer.parameters()
    }
    assert imu_last <= tuned
    first_conv = model.branches["imu"].encoder.net[1]
    assert not first_conv.weight.requires_grad and id(first_conv.weight) not in tuned
    assert not any(p.requires_grad for b in model.branches.values() for p in b.head.parameters())
    model.train()
    assert not model.branches["imu"].encoder.net[0].training  # frozen BatchNorm keeps its stats


def test_hidden_classes_are_withheld_from_one_modality_in_stage_one():
    model = make("two_stage", ["rgb", "imu"], hidden_classes={"imu": [0, 1]})
    x = batch(["rgb", "imu"])
    only_hidden = torch.tensor([0, 1, 0, 1])
    model.set_phase("pretrain_imu")
    model.zero_grad()
    loss = model.loss(x, only_hidden)
    loss.backward()
    assert float(loss) == 0.0
    assert all(not p.grad.any() for p in model.branches["imu"].parameters())
    model.set_phase("pretrain_rgb")
    model.loss(x, only_hidden).backward()
    assert all(p.grad is not None for p in model.branches["rgb"].parameters())
    with pytest.raises(ValueError, match="hidden_classes names"):
        make("two_stage", ["rgb", "imu"], hidden_classes={"audio": [0]})


def test_fit_stops_early_and_keeps_the_best_validation_epoch():
    torch.manual_seed(0)
    x, y = batch(["imu"], b=16), torch.arange(16) % K
    data = DictDataset(TensorDataset(x["imu"], y), ["imu"])
    noise = DictDataset(
        TensorDataset(torch.randn(16, *SHAPES["imu"]), torch.randperm(16) % K), ["imu"]
    )
    model = make("single", ["imu"])
    params = TrainParams(epochs=60, batch_size=8, lr=3e-3, patience=3)
    history = train_model(model, data, params, torch.device("cpu"), val_data=noise)
    assert len(history) < 60
    best = min(range(len(history)), key=lambda i: history[i]["val_loss"])
    assert len(history) == best + 1 + 3
    assert [row["kept"] for row in history] == [i == best for i in range(len(history))]
    probs = predict(model, noise, torch.device("cpu"))
    loss = torch.nn.functional.nll_loss(torch.from_numpy(probs).log(), noise.data.tensors[1])
    assert float(loss) == pytest.approx(history[best]["val_loss"], rel=1e-4)


def test_model_errors():
    with pytest.raises(ValueError, match="unknown model 'fancy'"):
        create_model("fancy", SHAPES, K)
    with pytest.raises(ValueError, match="takes one modality"):
        create_model("single", SHAPES, K)
    with pytest.raises(ValueError, match="unknown modality 'thermal'"):
        create_model("single", {"thermal": (3,)}, K)
    with pytest.raises(ValueError, match="model 'mid' has no option combine"):
        create_model("mid", SHAPES, K, combine="meta")
    with pytest.raises(ValueError, match="unknown merge 'sum'"):
        create_model("mid", SHAPES, K, merge="sum")
    with pytest.raises(ValueError, match="unknown combine 'vote'"):
        create_model("late", SHAPES, K, combine="vote")


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


def test_trainable_encoders_build_from_a_sample_shape():
    """Models ask an encoder class for itself given one sample's shape; frozen backbones
    have no such constructor and are refused by name."""
    from harfuse.encoders import ENCODERS
    from harfuse.fusion.base import DEFAULT_ENCODERS, modality_encoder

    trainable = sorted(n for n, c in ENCODERS.items() if hasattr(c, "from_shape"))
    assert set(DEFAULT_ENCODERS.values()) <= set(trainable) and len(trainable) == 11
    imu = modality_encoder("imu", (100, 6))
    assert imu(torch.zeros(2, 100, 6)).shape == (2, imu.out_dim)
    narrow = {"skeleton": {"name": "skeleton_gcn", "channels": [8, 16], "temporal_kernel": 3}}
    assert modality_encoder("skeleton", (16, 1, 20, 3), narrow).out_dim == 16
    with pytest.raises(ValueError, match=r"skeleton encoder skeleton_gcn: .*'width'"):
        modality_encoder("skeleton", (16, 1, 20, 3), {"skeleton": {"width": 8}})
    with pytest.raises(ValueError, match="'resnet18' is not a trainable rgb encoder"):
        modality_encoder("rgb", (4, 512), {"rgb": "resnet18"})


def test_two_stage_stage1_hyperparameters_per_modality():
    model = make("two_stage", ["rgb", "imu"], stage1={"imu": {"lr": 1e-4, "batch_size": 128}})
    assert model.phase_params("pretrain_imu") == {"lr": 1e-4, "batch_size": 128}
    assert model.phase_params("pretrain_rgb") == {} and model.phase_params("fuse") == {}
    with pytest.raises(
        ValueError, match=r"stage1\.imu: batch_sze not per-phase train\.params keys"
    ):
        make("two_stage", ["rgb", "imu"], stage1={"imu": {"batch_sze": 128}})
    with pytest.raises(ValueError, match="stage1 names"):
        make("two_stage", ["rgb", "imu"], stage1={"audio": {}})
