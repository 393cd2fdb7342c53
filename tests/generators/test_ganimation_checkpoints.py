"""Both public GANimation checkpoint layouts load through miex and give the reference outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from miex.errors import MiexError
from miex.generators.ganimation import GANimationNet, load_critic, load_network, save_network
from miex.generators.ganimation.networks import count_parameters
from tests.generators.ganimation_reference import (
    OfficialCritic,
    OfficialGenerator,
    ReplicateCritic,
    ReplicateGenerator,
    randomise,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def face_batch(astronaut_path) -> tuple[torch.Tensor, torch.Tensor]:
    """The real astronaut face in the generator framing (twice, mirrored) and two AU vectors."""
    from miex.faces import detect_face
    from miex.generators.ganimation.crop import generator_crop

    crop = generator_crop(detect_face(astronaut_path), 128).image
    images = np.stack([crop, crop[:, ::-1]]).astype(np.float32) / 127.5 - 1.0
    gen = torch.Generator().manual_seed(3)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.rand(2, 17, generator=gen)


def _max_error(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def test_replicate_layout_loads_and_matches(tmp_path, face_batch):
    ref = randomise(ReplicateGenerator(), seed=1)
    state = ref.state_dict()
    assert state["color_top.0.weight"].shape == (3, 64, 7, 7) and state["au_top.0.weight"].shape == (1, 64, 7, 7)
    assert "model.9.conv_block.0.bias" in state and "model.14.conv_block.3.weight" in state
    assert "model.18.weight" in state and not any(k.endswith("running_mean") for k in state)
    path = tmp_path / "30_net_gen.pth"
    torch.save(state, path)
    net = load_network(path)
    assert not net.training and net.config["conv_bias"] and not net.config["affine"]
    assert abs(count_parameters(net) - 8.47e6) < 0.02e6
    images, aus = face_batch
    with torch.no_grad():
        err = _max_error(net(images, aus), ref(images, aus))
    assert err <= 1e-4
    # the maps are not trivial: attention varies, colour spans a range
    with torch.no_grad():
        color, attention = net(images, aus)
    assert float(attention.std()) > 1e-3 and float(color.std()) > 1e-3


def test_official_layout_loads_and_matches(tmp_path, face_batch):
    ref = randomise(OfficialGenerator(c_dim=17), seed=2)
    state = ref.state_dict()
    assert "img_reg.0.weight" in state and "attetion_reg.0.weight" in state
    assert "main.9.main.4.weight" in state and "main.1.bias" in state and "main.0.bias" not in state
    # PyTorch 0.3 saved unused InstanceNorm running statistics and DataParallel a module. prefix
    legacy = dict(state)
    legacy["main.1.running_mean"] = torch.zeros(64)
    legacy["main.1.running_var"] = torch.ones(64)
    legacy = {f"module.{k}": v for k, v in legacy.items()}
    path = tmp_path / "net_epoch_30_id_G.pth"
    torch.save(legacy, path)
    net = load_network(path)
    assert net.config["affine"] and not net.config["conv_bias"]
    images, aus = face_batch
    with torch.no_grad():
        assert _max_error(net(images, aus), ref(images, aus)) <= 1e-4


def test_small_networks_load_with_their_shapes(tmp_path, face_batch):
    ref = randomise(ReplicateGenerator(ngf=16, n_blocks=2), seed=4)
    torch.save(ref.state_dict(), tmp_path / "g.pth")
    net = load_network(tmp_path / "g.pth")
    assert net.config["ngf"] == 16 and net.config["n_blocks"] == 2
    images, aus = face_batch
    with torch.no_grad():
        assert _max_error(net(images, aus), ref(images, aus)) <= 1e-4


def test_miex_writes_the_replicate_layout(tmp_path, face_batch):
    net = GANimationNet()
    randomise(net, seed=5)
    save_network(net, tmp_path / "1_net_gen.pth")
    ref = ReplicateGenerator().eval()
    ref.load_state_dict(torch.load(tmp_path / "1_net_gen.pth", weights_only=True), strict=True)
    images, aus = face_batch
    with torch.no_grad():
        assert _max_error(net(images, aus), ref(images, aus)) <= 1e-5


@pytest.mark.parametrize("layout", ["replicate", "official"])
def test_critics_load(tmp_path, face_batch, layout):
    ref = ReplicateCritic(ndf=8) if layout == "replicate" else OfficialCritic(conv_dim=8)
    randomise(ref, seed=6)
    torch.save(ref.state_dict(), tmp_path / "d.pth")
    critic = load_critic(tmp_path / "d.pth")
    images, _ = face_batch
    with torch.no_grad():
        patch, aus = critic(images)
        ref_patch, ref_aus = ref(images)
    assert aus.shape == (2, 17)
    assert float((patch - ref_patch).abs().max()) <= 1e-4
    assert float((aus - ref_aus.flatten(1)).abs().max()) <= 1e-4


def _one_line_error(path) -> str:
    with pytest.raises(MiexError) as info:
        load_network(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_removed_key_is_one_line_error_naming_it(tmp_path):
    state = ReplicateGenerator(ngf=8, n_blocks=2).state_dict()
    del state["model.10.conv_block.3.weight"]
    torch.save(state, tmp_path / "cut.pth")
    message = _one_line_error(tmp_path / "cut.pth")
    assert "missing model.10.conv_block.3.weight" in message


def test_unexpected_and_misshaped_keys_are_named(tmp_path):
    state = OfficialGenerator(conv_dim=8, repeat_num=2).state_dict()
    state["main.3.weight"] = torch.zeros(16, 8, 3, 3)
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "odd.pth")
    message = _one_line_error(tmp_path / "odd.pth")
    assert "unexpected extra.weight" in message
    assert "wrong shape main.3.weight (16, 8, 3, 3)" in message


def test_bad_files_are_one_line_errors(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert "not a readable PyTorch weights file" in _one_line_error(tmp_path / "junk.pth")
    torch.save({"epoch": 3}, tmp_path / "meta.pth")
    assert "not a state_dict" in _one_line_error(tmp_path / "meta.pth")
    torch.save(ReplicateCritic(ndf=8).state_dict(), tmp_path / "30_net_dis.pth")
    assert "critic" in _one_line_error(tmp_path / "30_net_dis.pth")
    assert "not found" in _one_line_error(tmp_path / "absent.pth")
    state = ReplicateGenerator(ngf=8, n_blocks=1, aus_nc=5).state_dict()
    torch.save(state, tmp_path / "five.pth")
    assert "5 AUs" in _one_line_error(tmp_path / "five.pth")
