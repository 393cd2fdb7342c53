"""check_init_weights / load_init_weights: complete and partial (MA2MI-style) init files."""

from __future__ import annotations

import pytest
import torch

from miex.errors import InputError, MiexError
from miex.models import create
from miex.models.weights import check_init_weights, load_init_weights


def _miacnet(width: int = 8, classes: int = 3, seed: int = 0):
    return create("miacnet", num_classes=classes, image_size=64, width=width, seed=seed)


def test_complete_checkpoint_fits_and_loads(tmp_path):
    src, dst = _miacnet(seed=1), _miacnet(seed=2)
    path = tmp_path / "full.pt"
    torch.save({"model": src.state_dict(), "epoch": 3}, path)
    check_init_weights(dst, path)
    assert load_init_weights(dst, path) == []
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_partial_file_loads_only_its_modules(tmp_path):
    src, dst = _miacnet(seed=1), _miacnet(seed=2)
    head_before = {k: v.clone() for k, v in dst.state_dict().items() if k.startswith("head.")}
    path = tmp_path / "ma2mi_last.pt"
    torch.save({"model": src.pretrained_state_dict(), "init_modules": ["position_encoder", "action_encoder"]}, path)
    check_init_weights(dst, path)
    assert load_init_weights(dst, path) == ["position_encoder", "action_encoder"]
    after = dst.state_dict()
    assert torch.equal(after["position_encoder.conv1.weight"], src.state_dict()["position_encoder.conv1.weight"])
    for k, v in head_before.items():
        assert torch.equal(after[k], v), k
    # a pre-trained encoder file fits a 5-class model too (the head is not in it)
    check_init_weights(_miacnet(classes=5), path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n", bytes(range(256)) * 40])
def test_junk_file_is_one_line_error(tmp_path, content):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        check_init_weights(_miacnet(), path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such weights file"):
        check_init_weights(_miacnet(), tmp_path / "absent.pt")


def test_mismatches_are_named(tmp_path):
    model = _miacnet(width=8)
    wide = tmp_path / "wide.pt"
    torch.save({"model": _miacnet(width=16).state_dict()}, wide)
    with pytest.raises(MiexError, match="shape mismatch") as err:
        check_init_weights(model, wide)
    assert "\n" not in str(err.value) and str(wide) in str(err.value)
    classes = tmp_path / "five.pt"
    torch.save(_miacnet(classes=5).state_dict(), classes)
    with pytest.raises(MiexError, match="head"):
        check_init_weights(model, classes)
    other = tmp_path / "branches.pt"
    torch.save(create("branches", image_size=64, width=8).state_dict(), other)
    with pytest.raises(MiexError, match="missing"):
        check_init_weights(model, other)
    incomplete = tmp_path / "incomplete.pt"
    part = {k: v for k, v in model.pretrained_state_dict().items() if not k.startswith("action_encoder.layer4")}
    torch.save({"model": part, "init_modules": ["position_encoder", "action_encoder"]}, incomplete)
    with pytest.raises(MiexError, match="missing"):
        check_init_weights(model, incomplete)
    stray = tmp_path / "stray.pt"
    torch.save({"model": model.state_dict(), "init_modules": ["position_encoder"]}, stray)
    with pytest.raises(MiexError, match="outside"):
        check_init_weights(model, stray)
    unknown = tmp_path / "unknown.pt"
    torch.save({"model": model.pretrained_state_dict(), "init_modules": ["encoder"]}, unknown)
    with pytest.raises(MiexError, match="no module"):
        check_init_weights(model, unknown)
