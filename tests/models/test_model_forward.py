"""Every registered model runs forward + backward on CPU with its documented input layout."""

from __future__ import annotations

import pytest
import torch

from miex.errors import MiexError
from miex.models import create, is_classical, list_models

# Small sizes so the whole file runs in seconds on two cores.
SMALL = {
    "resnet18": dict(image_size=64, width=16),
    "apexme": dict(image_size=64, width=16),
    "branches": dict(image_size=64),  # full width: the MiE-X model itself
    "miacnet": dict(image_size=64, width=16),
    "ststnet": dict(),
    "offapexnet": dict(),
    "dtscnn": dict(image_size=32, frames=(4, 8), width=8),
    "elrcn": dict(image_size=32, frames=4, width=8, hidden=16),
    "dssn": dict(),
    "micro_attention": dict(image_size=64, width=16),
    "microexp_stcnn": dict(image_size=24, frames=8, temporal_kernel=4),
    "microexp_fusenet": dict(image_size=24, frames=8, temporal_kernel=4),
    "atnet": dict(image_size=64, width=8),
    "htnet": dict(dim=16, depths=(1, 1, 2)),
}

LAYOUT = {"pair": 5, "apex": 4, "flow": 4, "video": 5, "flow_sequence": 5, "regions": 5, "region_clip": 6,
          "neighbours": 5}


def test_small_settings_cover_the_registry() -> None:
    assert sorted(SMALL) == [n for n in list_models() if not is_classical(n)]


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("num_classes", [3, 5])
def test_forward_backward(name: str, num_classes: int) -> None:
    torch.manual_seed(0)
    model = create(name, num_classes=num_classes, **SMALL[name])
    spec = model.input_spec
    shape = spec.shape(batch=3)
    assert len(shape) == LAYOUT[spec.kind]
    if spec.kind == "pair":
        assert shape[1:3] == (2, 3)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=gen)
    y = torch.tensor([0, 1, 2])
    model.train()
    logits = model(x)
    assert logits.shape == (3, num_classes)
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    assert torch.isfinite(loss)
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient for {pname}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    assert torch.equal(a, b)  # eval mode is deterministic (dropout off)
    assert not torch.allclose(a[0], a[1])  # and depends on the input


def test_documented_default_sizes() -> None:
    assert create("ststnet").input_spec.shape(1) == (1, 3, 28, 28)
    assert create("ststnet").input_spec.channel_names == ("u", "v", "strain")
    assert create("offapexnet").input_spec.shape(1) == (1, 2, 28, 28)
    assert create("branches", width=8).input_spec.shape(1) == (1, 2, 3, 224, 224)
    assert create("apexme", width=8).input_spec.shape(1) == (1, 3, 224, 224)
    assert create("miacnet", width=8).input_spec.kind == "pair"
    spec = create("dtscnn").input_spec
    assert (spec.kind, spec.channels, spec.frames) == ("video", 3, 16)
    assert create("dtscnn", frames=(64, 128)).input_spec.frames == 128


def test_ststnet_matches_the_public_code_layout() -> None:
    sd = create("ststnet").state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert shapes["conv1.weight"] == (3, 3, 3, 3)
    assert shapes["conv2.weight"] == (5, 3, 3, 3)
    assert shapes["conv3.weight"] == (8, 3, 3, 3)
    assert shapes["fc.weight"] == (3, 5 * 5 * 16)


def test_branches_trunks_are_unshared_and_head_is_miex() -> None:
    model = create("branches", width=8, image_size=64)
    assert model.onset_backbone.conv1.weight.data_ptr() != model.apex_backbone.conv1.weight.data_ptr()
    dims = [m.out_features for m in model.head if isinstance(m, torch.nn.Linear)]
    assert dims == [128, 32, 3]
    assert model.head[0].in_features == 2 * 64
    full = create("branches")
    assert full.head[0].in_features == 1024


def test_apexme_accepts_a_pair_and_uses_its_apex() -> None:
    model = create("apexme", image_size=64, width=8).eval()
    pair = torch.randn(2, 2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(model(pair), model(pair[:, 1]))


def test_dtscnn_takes_any_clip_length() -> None:
    model = create("dtscnn", image_size=32, frames=(4, 8), width=4).eval()
    with torch.no_grad():
        for t in (2, 8, 13):
            assert model(torch.randn(2, 3, t, 32, 32)).shape == (2, 3)


def test_wrong_input_layout_is_a_clear_error() -> None:
    with pytest.raises(MiexError, match=r"Branches expects a 'pair' input"):
        create("branches", width=8, image_size=64)(torch.zeros(2, 3, 64, 64))
    with pytest.raises(MiexError, match=r"STSTNet was built for 28x28"):
        create("ststnet")(torch.zeros(2, 3, 32, 32))
    with pytest.raises(MiexError, match=r"expects 2 channels"):
        create("offapexnet")(torch.zeros(2, 3, 28, 28))
