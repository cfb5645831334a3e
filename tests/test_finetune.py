"""Fine-tuning torchvision backbones block by block from frames."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from harfuse.encoders.backbones import BackboneSpec
from harfuse.encoders.finetune import TunedBackbone, copy_backbone, named_blocks
from harfuse.fusion import create_model

CLIP = (4, 32, 32, 3)


def backbone_model(blocks, **extra):
    torch.manual_seed(0)
    options = {"arch": "resnet18", "blocks": blocks, "num_frames": 4, "input_size": [32, 32]}
    return create_model("single", {"rgb": CLIP}, 3, backbone={**options, **extra})


def train_steps(model, steps: int = 3) -> None:
    opt = torch.optim.AdamW(model.param_groups(1e-2))
    model.train()
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        clips = torch.randint(0, 256, (4, *CLIP), dtype=torch.uint8, generator=gen)
        loss = model.loss({"rgb": clips}, torch.tensor([0, 1, 2, 0]))
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_only_the_named_blocks_and_the_heads_change_and_frozen_bn_stats_stay():
    model = backbone_model(["layer4"], lr_scale=0.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_steps(model)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    net = "encoder.backbone.net."
    assert any(k.startswith(net + "layer4.") and k.endswith("running_mean") for k in changed)
    assert any(k.startswith("head.") for k in changed)
    assert any(k.startswith("encoder.encoder.") for k in changed)  # the rgb encoder
    outside = {k for k in changed if k.startswith(net) and not k.startswith(net + "layer4.")}
    assert outside == set()  # weights and BatchNorm statistics of layer1-3 and the stem
    assert f"{net}layer1.0.bn1.running_mean" in before  # frozen blocks stay in the state dict
    trained = {n for n, _ in model.named_parameters()}
    assert not any(n.startswith(net + "layer3.") for n in trained)
    assert model.param_groups(1.0)[-1]["lr"] == 0.5  # lr_scale on the backbone's blocks


def test_a_backbone_starts_from_another_variants_fine_tuned_one():
    tuned = backbone_model("all")
    with torch.no_grad():  # as if trained: every weight and BatchNorm statistic moved
        for value in tuned.encoder.backbone.state_dict().values():
            if value.is_floating_point():
                value.add_(0.5)
    lstm = create_model(
        "single",
        {"rgb": CLIP},
        3,
        encoders={"rgb": "feature_lstm"},
        backbone={"arch": "resnet18", "blocks": "none", "num_frames": 4, "input_size": [32, 32]}
        | {"init_from": "frame_cnn", "weights": "no-such-file"},  # weights not read
    )
    copy_backbone(tuned, lstm)
    theirs = tuned.encoder.backbone.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in lstm.encoder.backbone.state_dict().items())
    tuned.encoder.backbone.spec = dataclasses.replace(tuned.encoder.backbone.spec, arch="vgg16")
    with pytest.raises(ValueError, match="backbone resnet18 cannot start from a vgg16"):
        copy_backbone(tuned, lstm)
    with pytest.raises(ValueError, match="the source model has 0 fine-tuned backbones"):
        copy_backbone(create_model("single", {"imu": (8, 6)}, 3), lstm)


def test_blocks_none_all_and_unknown_names():
    frozen = backbone_model("none")
    assert not any(n.startswith("encoder.backbone") for n, _ in frozen.named_parameters())
    whole = backbone_model("all")
    assert any(n.startswith("encoder.backbone.net.conv1") for n, _ in whole.named_parameters())
    with pytest.raises(ValueError, match=r"layer5 not blocks of this backbone \(blocks: stem"):
        backbone_model(["layer5"])
    with pytest.raises(ValueError, match="backbone has no option blcoks"):
        BackboneSpec.from_options({"arch": "s3d", "blcoks": "all"})


def test_s3d_blocks_carry_the_paper_names():
    import torchvision

    blocks = named_blocks("s3d", torchvision.models.video.s3d())
    assert list(blocks)[-2:] == ["Mixed_5b", "Mixed_5c"] and "Mixed_4c" in blocks
    assert sum(p.numel() for m in blocks["MaxPool_4a"] for p in m.parameters()) == 0


@pytest.mark.parametrize(
    ("arch", "blocks"), [("resnet18", ["layer3", "layer4"]), ("vgg16", ["conv5"])]
)
def test_gradient_checkpointing_gives_the_same_gradients_and_statistics(arch, blocks):
    runs = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        options = {"arch": arch, "blocks": blocks, "num_frames": 2, "input_size": [32, 32]}
        model = create_model(
            "single",
            {"rgb": (2, 32, 32, 3)},
            3,
            backbone={**options, "checkpointing": checkpointing},
        )
        clips = torch.randint(
            0, 256, (2, 2, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
        )
        model.train()
        model.loss({"rgb": clips}, torch.tensor([0, 1])).backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        runs.append((grads, {k: v.clone() for k, v in model.state_dict().items()}))
    (plain, plain_state), (recomputed, state) = runs
    assert plain.keys() == recomputed.keys() and plain_state.keys() == state.keys()
    for name, grad in plain.items():
        torch.testing.assert_close(recomputed[name], grad)
    for name, value in plain_state.items():  # BatchNorm statistics counted once
        torch.testing.assert_close(state[name], value, msg=name)


def test_two_stage_trains_the_named_blocks_in_both_stages():
    torch.manual_seed(0)
    backbone = {"arch": "r3d_18", "blocks": ["layer4"], "num_frames": 4, "input_size": [32, 32]}
    model = create_model(
        "two_stage", {"rgb": CLIP, "imu": (50, 6)}, 3, backbone=backbone, finetune="all"
    )
    for phase in ("pretrain_rgb", "fuse"):  # the rgb encoder's stage 1, and stage 2
        model.set_phase(phase)
        trained = {n for n, p in model.named_parameters() if p.requires_grad}
        assert any(".backbone.net.layer4." in n for n in trained), phase
        assert not any(".backbone.net.layer3." in n for n in trained), phase
    model.set_phase("pretrain_imu")
    assert not any(p.requires_grad for p in model.branches["rgb"].parameters())
    clips = torch.randint(0, 256, (2, 3, *CLIP), dtype=torch.uint8)  # 3 test clips
    out = model.eval()({"rgb": clips, "imu": torch.randn(2, 50, 6)})
    assert out.shape == (2, 3)


def test_a_tuned_backbone_starts_from_the_frozen_encoder_weights(tmp_path):
    import torchvision

    weights = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    tuned = TunedBackbone(BackboneSpec("resnet18", str(weights), ["layer4"]))
    state = torch.load(weights, weights_only=True)
    torch.testing.assert_close(tuned.net.layer4[0].conv1.weight, state["layer4.0.conv1.weight"])
    torch.testing.assert_close(tuned.net.conv1.weight, state["conv1.weight"])  # frozen buffer


@pytest.mark.parametrize(
    ("arch", "block", "num_frames"),
    [
        ("resnet50", "layer4", 2),
        ("vgg16", "fc7", 2),
        ("r2plus1d_18", "layer4", 4),
        ("s3d", "Mixed_5c", 8),
    ],
)
def test_every_backbone_trains_its_named_block(arch, block, num_frames):
    torch.manual_seed(0)
    clip = (num_frames, 32, 32, 3)
    spec = {"arch": arch, "blocks": [block], "num_frames": num_frames, "input_size": [32, 32]}
    model = create_model("single", {"rgb": clip}, 3, backbone=spec)
    model.train()
    x = torch.randint(0, 256, (2, *clip), dtype=torch.uint8)
    model.loss({"rgb": x}, torch.tensor([0, 1])).backward()
    tuned = model.encoder.backbone
    blocks = named_blocks(arch, tuned.net)
    assert all(p.grad is not None for m in blocks[block] for p in m.parameters())
    others = [m for name, ms in blocks.items() if name != block for m in ms]
    assert not any(True for m in others for _ in m.parameters())  # frozen: buffers only


def test_two_stage_train_mode_follows_what_each_phase_trains():
    torch.manual_seed(0)
    backbone = {"arch": "resnet18", "blocks": ["layer4"], "num_frames": 4, "input_size": [32, 32]}
    model = create_model(
        "two_stage", {"rgb": CLIP, "imu": (50, 6)}, 3, backbone=backbone, finetune="all"
    )
    net = model.branches["rgb"].encoder.backbone.net
    imu_norms = [m for m in model.branches["imu"].modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert imu_norms
    model.set_phase("pretrain_imu")
    model.train()
    assert all(m.training for m in imu_norms)  # the branch being trained uses batch stats
    assert not net.layer4[0].bn1.training  # the other branch is left alone
    model.set_phase("pretrain_rgb")
    model.train()
    assert net.layer4[0].bn1.training and not net.layer3[0].bn1.training
    assert not any(m.training for m in imu_norms)
    model.set_phase("fuse")
    model.train()
    assert net.layer4[0].bn1.training and not net.layer3[0].bn1.training
    assert all(m.training for m in imu_norms) and model.head.training
