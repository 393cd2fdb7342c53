"""MIACNet's position/action encoders can be initialised from an MA2MI pre-training file."""

from __future__ import annotations

import pytest
import torch

from miex.errors import MiexError
from miex.models import MIACNet, create


def _pretrained_file(tmp_path, width: int = 8):
    torch.manual_seed(11)
    src = MIACNet(image_size=64, width=width)
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.randn_like(p))
    state = src.pretrained_state_dict()
    assert state and all(k.startswith(("position_encoder.", "action_encoder.")) for k in state)
    path = tmp_path / "ma2mi.pth"
    # a pre-training run also saves its own predictor, which MIACNet ignores
    torch.save({"state_dict": {**state, "predictor.weight": torch.zeros(4, 4)}}, path)
    return path, state


def test_load_pretrained_round_trip(tmp_path) -> None:
    path, state = _pretrained_file(tmp_path)
    model = MIACNet(image_size=64, width=8)
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    assert model.load_pretrained(path) == ["position_encoder", "action_encoder"]
    got = model.state_dict()
    for k, v in state.items():
        assert torch.equal(got[k], v), k
    for k, v in model.head.state_dict().items():
        assert torch.equal(v, head_before[k])
    via_create = create("miacnet", image_size=64, width=8, ma2mi_weights=str(path))
    assert torch.equal(via_create.action_encoder.layer4[1].conv2.weight, state["action_encoder.layer4.1.conv2.weight"])


def test_load_only_one_encoder(tmp_path) -> None:
    path, state = _pretrained_file(tmp_path)
    model = MIACNet(image_size=64, width=8)
    before = model.position_encoder.conv1.weight.detach().clone()
    model.load_pretrained(path, modules=["action_encoder"])
    assert torch.equal(model.position_encoder.conv1.weight, before)
    assert torch.equal(model.action_encoder.conv1.weight, state["action_encoder.conv1.weight"])


def test_load_pretrained_errors(tmp_path) -> None:
    path, _ = _pretrained_file(tmp_path, width=8)
    with pytest.raises(MiexError, match=r"ma2mi\.pth: does not fit MIACNet\.position_encoder: .*shape mismatch"):
        MIACNet(image_size=64, width=16).load_pretrained(path)
    other = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(2)}, other)
    with pytest.raises(MiexError, match=r"holds no position_encoder\.\* weights"):
        MIACNet(image_size=64, width=8).load_pretrained(other)
    with pytest.raises(MiexError, match="modules must be among"):
        MIACNet(image_size=64, width=8).load_pretrained(path, modules=["head"])


def test_position_and_action_branches_both_matter() -> None:
    torch.manual_seed(0)
    model = MIACNet(image_size=64, width=8).eval()
    gen = torch.Generator().manual_seed(5)
    onset = torch.randn(2, 3, 64, 64, generator=gen)
    apex = onset + 0.3 * torch.randn(2, 3, 64, 64, generator=gen)
    with torch.no_grad():
        base = model(torch.stack([onset, apex], 1))
        still = model(torch.stack([onset, onset], 1))  # no motion
        pos, act = model.encode(onset, apex - onset)
    assert pos.shape == act.shape == (2, 64, 2, 2)
    assert not torch.allclose(base, still)
