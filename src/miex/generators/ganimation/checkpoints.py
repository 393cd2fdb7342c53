"""Reading and writing GANimation checkpoints in the two public state_dict layouts.

``replicate`` -- ``donydchen/ganimation_replicate`` (``{epoch}_net_gen.pth`` / ``_net_dis.pth``):
  generator keys ``model.N.*`` (biased convolutions, InstanceNorm without parameters; residual
  blocks ``model.9-14.conv_block.{0,3}``), heads ``color_top.0.weight``, ``au_top.0.weight``;
  critic keys ``model.{0,2,..}.{weight,bias}``, ``dis_top.weight``, ``aus_top.weight``.
``official`` -- ``albertpumarola/GANimation`` (``net_epoch_{E}_id_G.pth`` / ``_id_D.pth``):
  generator keys ``main.N.*`` (unbiased convolutions, affine InstanceNorm ``main.N.{weight,bias}``;
  blocks ``main.9-14.main.{0,1,3,4}``), heads ``img_reg.0.weight``, ``attetion_reg.0.weight``
  (sic); critic ``main.*``, ``conv1.weight``, ``conv2.weight``.

Files are read with ``torch.load(weights_only=True)`` (no pickled code runs). A ``module.``
prefix (saved from ``DataParallel``) is removed. The official code ran on PyTorch 0.3, whose
InstanceNorm stored ``running_mean``/``running_var`` buffers it never used; those are dropped,
as PyTorch itself does. Every other difference from the expected keys and shapes -- missing,
unexpected, mis-shaped -- is one :class:`~miex.errors.MiexError` naming the keys and the file
(the replicate code silently drops mismatched keys; miex does not). The network size (``ngf``,
number of residual blocks, critic depth) is read from the tensor shapes, so small models
trained with ``miex generator train`` load the same way.

miex writes the ``replicate`` layout, so other tools that read those checkpoints read miex's.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Mapping

import torch

from miex.au.space import N_AUS
from miex.errors import MiexError
from miex.generators.ganimation.networks import N_DOWN, GANimationCritic, GANimationNet

LAYOUTS = ("replicate", "official")

_TRUNK = {"replicate": "model", "official": "main"}
_BLOCK = {"replicate": "conv_block", "official": "main"}
_HEADS = {
    "replicate": {"color_head": "color_top.0", "attention_head": "au_top.0"},
    "official": {"color_head": "img_reg.0", "attention_head": "attetion_reg.0"},
}
_CRITIC_HEADS = {
    "replicate": {"patch_head": "dis_top", "au_head": "aus_top"},
    "official": {"patch_head": "conv1", "au_head": "conv2"},
}
_LEGACY_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
_BLOCK_PARTS = {"conv1": 0, "norm1": 1, "conv2": 3, "norm2": 4}
SHOWN = 4


# --------------------------------------------------------------------------- key maps


def generator_key(name: str, layout: str, n_blocks: int) -> str:
    """The public-layout name of the miex generator parameter ``name``."""
    trunk = _TRUNK[layout]
    for head, public in _HEADS[layout].items():
        if name.startswith(head + "."):
            return public + name[len(head):]
    if m := re.fullmatch(r"stem\.(conv|norm)\.(\w+)", name):
        return f"{trunk}.{0 if m[1] == 'conv' else 1}.{m[2]}"
    if m := re.fullmatch(r"down\.(\d+)\.(conv|norm)\.(\w+)", name):
        index = 3 * (int(m[1]) + 1) + (m[2] == "norm")
        return f"{trunk}.{index}.{m[3]}"
    if m := re.fullmatch(r"blocks\.(\d+)\.(conv1|norm1|conv2|norm2)\.(\w+)", name):
        index = 3 * (N_DOWN + 1) + int(m[1])
        return f"{trunk}.{index}.{_BLOCK[layout]}.{_BLOCK_PARTS[m[2]]}.{m[3]}"
    if m := re.fullmatch(r"up\.(\d+)\.(conv|norm)\.(\w+)", name):
        index = 3 * (N_DOWN + 1) + n_blocks + 3 * int(m[1]) + (m[2] == "norm")
        return f"{trunk}.{index}.{m[3]}"
    raise KeyError(name)


def critic_key(name: str, layout: str) -> str:
    """The public-layout name of the miex critic parameter ``name``."""
    for head, public in _CRITIC_HEADS[layout].items():
        if name.startswith(head + "."):
            return public + name[len(head):]
    if m := re.fullmatch(r"trunk\.(\d+)\.(\w+)", name):
        return f"{_TRUNK[layout]}.{m[1]}.{m[2]}"
    raise KeyError(name)


def to_layout(net: GANimationNet | GANimationCritic, layout: str = "replicate") -> dict[str, torch.Tensor]:
    """``net``'s state_dict under the public ``layout``'s key names (CPU tensors)."""
    if layout not in LAYOUTS:
        raise MiexError(f"unknown checkpoint layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    state = net.state_dict()
    if isinstance(net, GANimationNet):
        names = {k: generator_key(k, layout, net.config["n_blocks"]) for k in state}
    else:
        names = {k: critic_key(k, layout) for k in state}
    return {names[k]: v.detach().cpu().clone() for k, v in state.items()}


# --------------------------------------------------------------------------- reading


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A flat ``{name: tensor}`` dict from ``path`` (weights only), ``module.`` prefix removed."""
    path = Path(path)
    if not path.is_file():
        raise MiexError(f"{path}: weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MiexError(f"{path}: not a readable PyTorch weights file ({reason[:160]})") from None
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MiexError(f"{path}: not a state_dict of tensors (a GANimation {{epoch}}_net_gen.pth or net_epoch_E_id_G.pth file)")
    state = {str(k): v for k, v in state.items()}
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _layout_of(state: Mapping[str, torch.Tensor], heads: Mapping[str, Mapping[str, str]], path: Path, what: str) -> str:
    votes = {layout: sum(k.split(".")[0] in {h.split(".")[0] for h in heads[layout].values()} | {_TRUNK[layout]}
                         for k in state) for layout in LAYOUTS}
    best = max(votes, key=votes.get)
    if votes[best] == 0:
        shown = ", ".join(sorted(state)[:SHOWN])
        raise MiexError(f"{path}: not a GANimation {what} checkpoint (keys {shown}, ...)")
    return best


def _drop_legacy(state: dict[str, torch.Tensor], layout: str) -> dict[str, torch.Tensor]:
    trunk = _TRUNK[layout] + "."
    return {k: v for k, v in state.items() if not (k.startswith(trunk) and k.rsplit(".", 1)[-1] in _LEGACY_BUFFERS)}


def _check_keys(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Size], path: Path, what: str) -> None:
    missing = [k for k in expected if k not in state]
    unexpected = sorted(k for k in state if k not in expected)
    shapes = [f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k])})"
              for k in expected if k in state and state[k].shape != expected[k]]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
        if items:
            more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
            problems.append(f"{label} {', '.join(items[:SHOWN])}{more}")
    if problems:
        raise MiexError(f"{path}: bad {what} checkpoint: {'; '.join(problems)}")


def _generator_config(state: Mapping[str, torch.Tensor], layout: str, path: Path) -> dict:
    trunk, block = _TRUNK[layout], _BLOCK[layout]
    stem = state.get(f"{trunk}.0.weight")
    color = state.get(_HEADS[layout]["color_head"] + ".weight")
    if stem is not None and stem.ndim == 4:
        ngf, n_aus = int(stem.shape[0]), int(stem.shape[1]) - 3
    elif color is not None and color.ndim == 4:
        ngf, n_aus = int(color.shape[1]), N_AUS
    else:
        raise MiexError(f"{path}: bad generator checkpoint: missing {trunk}.0.weight and {_HEADS[layout]['color_head']}.weight")
    if n_aus != N_AUS:
        raise MiexError(f"{path}: the generator takes {n_aus} AUs; miex needs the {N_AUS} GANimation/OpenFace AUs")
    pattern = re.compile(rf"{re.escape(trunk)}\.(\d+)\.{re.escape(block)}\.")
    blocks = {int(m[1]) for k in state if (m := pattern.match(k))}
    n_blocks = len(blocks)
    return dict(ngf=ngf, n_blocks=n_blocks, n_aus=n_aus, conv_bias=layout == "replicate", affine=layout == "official")


def load_network(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> GANimationNet:
    """The generator stored at ``path`` (either public layout), on ``device``, in eval mode."""
    path = Path(path)
    state = read_state_dict(path)
    layout = _layout_of(state, _HEADS, path, "generator")
    if any(k.split(".")[0] in _CRITIC_HEADS[layout].values() for k in state):
        raise MiexError(f"{path}: this is a critic (discriminator) checkpoint; give the generator file")
    state = _drop_legacy(state, layout)
    net = GANimationNet(**_generator_config(state, layout, path))
    names = {k: generator_key(k, layout, net.config["n_blocks"]) for k in net.state_dict()}
    _check_keys(state, {names[k]: v.shape for k, v in net.state_dict().items()}, path, f"generator ({layout} layout)")
    net.load_state_dict({k: state[names[k]] for k in names})
    net.layout = layout  # type: ignore[attr-defined]
    return net.to(device).eval()


def load_critic(path: str | os.PathLike[str], *, image_size: int = 128, device: str | torch.device = "cpu") -> GANimationCritic:
    """The critic stored at ``path`` (either public layout) for ``image_size`` crops."""
    path = Path(path)
    state = read_state_dict(path)
    layout = _layout_of(state, _CRITIC_HEADS, path, "critic")
    pattern = re.compile(rf"{_TRUNK[layout]}\.(\d+)\.weight")
    convs = sorted(int(m[1]) for k in state if (m := pattern.fullmatch(k)))
    first = state.get(f"{_TRUNK[layout]}.0.weight")
    if first is None or not convs:
        raise MiexError(f"{path}: bad critic checkpoint: missing {_TRUNK[layout]}.0.weight")
    try:
        net = GANimationCritic(image_size=image_size, ndf=int(first.shape[0]), n_layers=len(convs), n_aus=N_AUS)
    except ValueError as exc:
        raise MiexError(f"{path}: {exc}") from None
    names = {k: critic_key(k, layout) for k in net.state_dict()}
    _check_keys(state, {names[k]: v.shape for k, v in net.state_dict().items()}, path, f"critic ({layout} layout)")
    net.load_state_dict({k: state[names[k]] for k in names})
    return net.to(device)


# --------------------------------------------------------------------------- writing


def save_network(net: GANimationNet | GANimationCritic, path: str | os.PathLike[str], layout: str = "replicate") -> Path:
    """Write ``net`` atomically as a plain state_dict in a public layout (default ``replicate``)."""
    from miex.io import atomic_path

    with atomic_path(path) as tmp:
        torch.save(to_layout(net, layout), tmp)
    return Path(path)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file (recorded in manifests so a set names the weights that made it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
