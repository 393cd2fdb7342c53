"""miex's ResNet-18 has torchvision's resnet18 state_dict layout, and loads ``.pth`` backbones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from miex.errors import InputError, MiexError
from miex.models import ApexME, Branches, MIACNet, ResNet18, create, load_backbone_weights

# torchvision.models.resnet18().state_dict(), written out by hand from torchvision's
# definition (BasicBlock, layers [2, 2, 2, 2], 1000 classes): 122 entries.
TORCHVISION_RESNET18 = [
    ("conv1.weight", (64, 3, 7, 7)),
    ("bn1.weight", (64,)), ("bn1.bias", (64,)), ("bn1.running_mean", (64,)), ("bn1.running_var", (64,)),
    ("bn1.num_batches_tracked", ()),
    ("layer1.0.conv1.weight", (64, 64, 3, 3)),
    ("layer1.0.bn1.weight", (64,)), ("layer1.0.bn1.bias", (64,)), ("layer1.0.bn1.running_mean", (64,)),
    ("layer1.0.bn1.running_var", (64,)), ("layer1.0.bn1.num_batches_tracked", ()),
    ("layer1.0.conv2.weight", (64, 64, 3, 3)),
    ("layer1.0.bn2.weight", (64,)), ("layer1.0.bn2.bias", (64,)), ("layer1.0.bn2.running_mean", (64,)),
    ("layer1.0.bn2.running_var", (64,)), ("layer1.0.bn2.num_batches_tracked", ()),
    ("layer1.1.conv1.weight", (64, 64, 3, 3)),
    ("layer1.1.bn1.weight", (64,)), ("layer1.1.bn1.bias", (64,)), ("layer1.1.bn1.running_mean", (64,)),
    ("layer1.1.bn1.running_var", (64,)), ("layer1.1.bn1.num_batches_tracked", ()),
    ("layer1.1.conv2.weight", (64, 64, 3, 3)),
    ("layer1.1.bn2.weight", (64,)), ("layer1.1.bn2.bias", (64,)), ("layer1.1.bn2.running_mean", (64,)),
    ("layer1.1.bn2.running_var", (64,)), ("layer1.1.bn2.num_batches_tracked", ()),
    ("layer2.0.conv1.weight", (128, 64, 3, 3)),
    ("layer2.0.bn1.weight", (128,)), ("layer2.0.bn1.bias", (128,)), ("layer2.0.bn1.running_mean", (128,)),
    ("layer2.0.bn1.running_var", (128,)), ("layer2.0.bn1.num_batches_tracked", ()),
    ("layer2.0.conv2.weight", (128, 128, 3, 3)),
    ("layer2.0.bn2.weight", (128,)), ("layer2.0.bn2.bias", (128,)), ("layer2.0.bn2.running_mean", (128,)),
    ("layer2.0.bn2.running_var", (128,)), ("layer2.0.bn2.num_batches_tracked", ()),
    ("layer2.0.downsample.0.weight", (128, 64, 1, 1)),
    ("layer2.0.downsample.1.weight", (128,)), ("layer2.0.downsample.1.bias", (128,)),
    ("layer2.0.downsample.1.running_mean", (128,)), ("layer2.0.downsample.1.running_var", (128,)),
    ("layer2.0.downsample.1.num_batches_tracked", ()),
    ("layer2.1.conv1.weight", (128, 128, 3, 3)),
    ("layer2.1.bn1.weight", (128,)), ("layer2.1.bn1.bias", (128,)), ("layer2.1.bn1.running_mean", (128,)),
    ("layer2.1.bn1.running_var", (128,)), ("layer2.1.bn1.num_batches_tracked", ()),
    ("layer2.1.conv2.weight", (128, 128, 3, 3)),
    ("layer2.1.bn2.weight", (128,)), ("layer2.1.bn2.bias", (128,)), ("layer2.1.bn2.running_mean", (128,)),
    ("layer2.1.bn2.running_var", (128,)), ("layer2.1.bn2.num_batches_tracked", ()),
    ("layer3.0.conv1.weight", (256, 128, 3, 3)),
    ("layer3.0.bn1.weight", (256,)), ("layer3.0.bn1.bias", (256,)), ("layer3.0.bn1.running_mean", (256,)),
    ("layer3.0.bn1.running_var", (256,)), ("layer3.0.bn1.num_batches_tracked", ()),
    ("layer3.0.conv2.weight", (256, 256, 3, 3)),
    ("layer3.0.bn2.weight", (256,)), ("layer3.0.bn2.bias", (256,)), ("layer3.0.bn2.running_mean", (256,)),
    ("layer3.0.bn2.running_var", (256,)), ("layer3.0.bn2.num_batches_tracked", ()),
    ("layer3.0.downsample.0.weight", (256, 128, 1, 1)),
    ("layer3.0.downsample.1.weight", (256,)), ("layer3.0.downsample.1.bias", (256,)),
    ("layer3.0.downsample.1.running_mean", (256,)), ("layer3.0.downsample.1.running_var", (256,)),
    ("layer3.0.downsample.1.num_batches_tracked", ()),
    ("layer3.1.conv1.weight", (256, 256, 3, 3)),
    ("layer3.1.bn1.weight", (256,)), ("layer3.1.bn1.bias", (256,)), ("layer3.1.bn1.running_mean", (256,)),
    ("layer3.1.bn1.running_var", (256,)), ("layer3.1.bn1.num_batches_tracked", ()),
    ("layer3.1.conv2.weight", (256, 256, 3, 3)),
    ("layer3.1.bn2.weight", (256,)), ("layer3.1.bn2.bias", (256,)), ("layer3.1.bn2.running_mean", (256,)),
    ("layer3.1.bn2.running_var", (256,)), ("layer3.1.bn2.num_batches_tracked", ()),
    ("layer4.0.conv1.weight", (512, 256, 3, 3)),
    ("layer4.0.bn1.weight", (512,)), ("layer4.0.bn1.bias", (512,)), ("layer4.0.bn1.running_mean", (512,)),
    ("layer4.0.bn1.running_var", (512,)), ("layer4.0.bn1.num_batches_tracked", ()),
    ("layer4.0.conv2.weight", (512, 512, 3, 3)),
    ("layer4.0.bn2.weight", (512,)), ("layer4.0.bn2.bias", (512,)), ("layer4.0.bn2.running_mean", (512,)),
    ("layer4.0.bn2.running_var", (512,)), ("layer4.0.bn2.num_batches_tracked", ()),
    ("layer4.0.downsample.0.weight", (512, 256, 1, 1)),
    ("layer4.0.downsample.1.weight", (512,)), ("layer4.0.downsample.1.bias", (512,)),
    ("layer4.0.downsample.1.running_mean", (512,)), ("layer4.0.downsample.1.running_var", (512,)),
    ("layer4.0.downsample.1.num_batches_tracked", ()),
    ("layer4.1.conv1.weight", (512, 512, 3, 3)),
    ("layer4.1.bn1.weight", (512,)), ("layer4.1.bn1.bias", (512,)), ("layer4.1.bn1.running_mean", (512,)),
    ("layer4.1.bn1.running_var", (512,)), ("layer4.1.bn1.num_batches_tracked", ()),
    ("layer4.1.conv2.weight", (512, 512, 3, 3)),
    ("layer4.1.bn2.weight", (512,)), ("layer4.1.bn2.bias", (512,)), ("layer4.1.bn2.running_mean", (512,)),
    ("layer4.1.bn2.running_var", (512,)), ("layer4.1.bn2.num_batches_tracked", ()),
    ("fc.weight", (1000, 512)), ("fc.bias", (1000,)),
]


def test_literal_layout_is_complete() -> None:
    assert len(TORCHVISION_RESNET18) == 122
    assert len({k for k, _ in TORCHVISION_RESNET18}) == 122


def test_state_dict_keys_order_and_shapes_match_torchvision() -> None:
    sd = ResNet18(num_classes=1000).state_dict()
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == TORCHVISION_RESNET18


def test_parameter_count_matches_torchvision() -> None:
    model = create("resnet18", num_classes=1000)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512


def test_feature_map_is_stride_32() -> None:
    model = ResNet18(num_classes=0).eval()
    with torch.no_grad():
        fmap = model.forward_features(torch.zeros(1, 3, 224, 224))
        pooled = model(torch.zeros(1, 3, 224, 224))
    assert fmap.shape == (1, 512, 7, 7)
    assert pooled.shape == (1, 512)
    assert "fc.weight" not in model.state_dict()


@pytest.fixture(scope="module")
def imagenet_like_pth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A torchvision-layout file with distinctive values (a stand-in for resnet18-f37072fd.pth)."""
    gen = torch.Generator().manual_seed(7)
    src = ResNet18(num_classes=1000)
    sd = {k: (torch.randn(v.shape, generator=gen) if v.is_floating_point() else v + 5)
          for k, v in src.state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(sd, path)
    return path, sd


def _assert_backbone_equal(trunk: ResNet18, sd: dict[str, torch.Tensor]) -> None:
    got = trunk.state_dict()
    for k, v in sd.items():
        if not k.startswith("fc."):
            assert torch.equal(got[k], v), k


def test_round_trip_into_a_resnet_with_other_classes(imagenet_like_pth) -> None:
    path, sd = imagenet_like_pth
    model = ResNet18(num_classes=3)
    fc_before = model.fc.weight.detach().clone()
    assert load_backbone_weights(model, path) == [""]
    _assert_backbone_equal(model, sd)
    assert torch.equal(model.fc.weight, fc_before)  # fc.* of the file is ignored
    again = create("resnet18", pretrained_backbone=str(path))
    _assert_backbone_equal(again, sd)


def test_round_trip_into_apexme_branches_and_miacnet(imagenet_like_pth) -> None:
    path, sd = imagenet_like_pth
    apex = ApexME(image_size=64, pretrained_backbone=path)
    _assert_backbone_equal(apex.backbone, sd)
    br = Branches(image_size=64).eval()
    x = torch.zeros(2, 2, 3, 64, 64)
    with torch.no_grad():
        before = br(x)
    assert sorted(load_backbone_weights(br, path)) == ["apex_backbone", "onset_backbone"]
    _assert_backbone_equal(br.onset_backbone, sd)
    _assert_backbone_equal(br.apex_backbone, sd)
    with torch.no_grad():
        assert not torch.allclose(br(x), before)  # the loaded weights are used
    mi = MIACNet(image_size=64, pretrained_backbone=path)
    _assert_backbone_equal(mi.position_encoder, sd)
    _assert_backbone_equal(mi.action_encoder, sd)


def test_checkpoint_dict_with_module_prefix_and_old_files_without_counters(tmp_path, imagenet_like_pth) -> None:
    _, sd = imagenet_like_pth
    wrapped = tmp_path / "ddp.pth"
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in sd.items()}}, wrapped)
    model = ResNet18()
    load_backbone_weights(model, wrapped)
    _assert_backbone_equal(model, sd)
    old = tmp_path / "pre04.pth"  # files saved before PyTorch 0.4 have no num_batches_tracked
    torch.save({k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}, old)
    model = ResNet18()
    load_backbone_weights(model, old)
    assert torch.equal(model.conv1.weight, sd["conv1.weight"])


def test_clear_errors(tmp_path, imagenet_like_pth) -> None:
    path, sd = imagenet_like_pth
    with pytest.raises(InputError, match="no such weights file"):
        load_backbone_weights(ResNet18(), tmp_path / "absent.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(InputError, match=r"junk\.pth: unreadable weights file"):
        load_backbone_weights(ResNet18(), junk)
    notsd = tmp_path / "list.pth"
    torch.save([1, 2, 3], notsd)
    with pytest.raises(InputError, match="not a state_dict"):
        load_backbone_weights(ResNet18(), notsd)

    missing = tmp_path / "missing.pth"
    torch.save({k: v for k, v in sd.items() if not k.startswith("layer4.1.")}, missing)
    with pytest.raises(MiexError, match=r"missing\.pth.*missing 10 key\(s\): layer4\.1\.conv1\.weight"):
        load_backbone_weights(ResNet18(), missing)

    extra = tmp_path / "extra.pth"
    torch.save({**sd, "layer5.0.conv1.weight": torch.zeros(1)}, extra)
    with pytest.raises(MiexError, match=r"unexpected 1 key\(s\): layer5\.0\.conv1\.weight"):
        load_backbone_weights(ResNet18(), extra)

    shape_msg = r"shape mismatch.*conv1\.weight: file \(64, 3, 7, 7\) vs model \(16, 3, 7, 7\)"
    with pytest.raises(MiexError, match=shape_msg):
        load_backbone_weights(ResNet18(width=16), path)

    model = ResNet18()
    before = model.conv1.weight.detach().clone()
    with pytest.raises(MiexError):
        load_backbone_weights(model, missing)
    assert torch.equal(model.conv1.weight, before)  # nothing half-loaded

    with pytest.raises(MiexError, match="no ResNet-18 backbone"):
        load_backbone_weights(create("ststnet"), path)
