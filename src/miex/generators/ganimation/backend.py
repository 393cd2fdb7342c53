"""``create_generator("ganimation", weights=FILE)``: the learned GANimation backend.

Each face is cut in the checkpoints' framing (:mod:`.crop`), the AU vectors of a call are run
through the network in batches of ``batch_size``, and the change is pasted back into the face
crop (``paste=True``, default) or the generator crop itself is returned, resized to the face
crop's size (``paste=False``: the released MiE-X framing, tight detector-box crops).

Inference runs in float32 on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``); it has no
random draws, so a frame depends only on the face, the AU vector and the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from miex.au.space import validate_z
from miex.errors import MiexError
from miex.generators.base import Generator
from miex.generators.ganimation.crop import GeneratorCrop, generator_crop, paste_back


def resolve_device(device: str | None):
    """A torch device from a user string; a clear error when CUDA is asked for but absent."""
    import torch

    text = (device or "cpu").strip().lower()
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise MiexError(f"--device must be cpu, cuda, cuda:N or auto, got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MiexError(f"--device {device}: CUDA is not available here (use --device cpu)")
    if dev.type not in ("cpu", "cuda"):
        raise MiexError(f"--device must be cpu, cuda, cuda:N or auto, got {device!r}")
    return dev


@dataclass
class Prepared:
    crop: GeneratorCrop
    size: int


class GANimationGenerator(Generator):
    """GANimation (Pumarola et al., ECCV 2018) behind the miex :class:`Generator` interface."""

    name = "ganimation"

    def __init__(self, weights: str | None = None, *, device: str | None = "cpu", batch_size: int = 16,
                 crop_size: int = 128, paste: bool = True, from_source: bool = True, net: Any = None) -> None:
        from miex.generators.ganimation.checkpoints import file_sha256, load_network

        self.device = resolve_device(device)
        if net is None:
            if not weights:
                raise MiexError("the ganimation generator needs a weights file: --weights FILE "
                                "(a {epoch}_net_gen.pth of ganimation_replicate, a net_epoch_E_id_G.pth of "
                                "GANimation, or one written by `miex generator train`)")
            net = load_network(weights, device=self.device)
            self.weights_sha256 = file_sha256(weights)
        else:
            net = net.to(self.device).eval()
            self.weights_sha256 = ""
        self.net = net
        self.weights = str(weights) if weights else ""
        if int(batch_size) < 1:
            raise MiexError(f"batch size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.crop_size = int(crop_size)
        self.paste = bool(paste)
        self.from_source = bool(from_source)

    def prepare(self, face: Any) -> Prepared:
        return Prepared(crop=generator_crop(face, self.crop_size, from_source=self.from_source),
                        size=int(np.asarray(face.image).shape[0]))

    def render(self, prepared: Prepared, z: Sequence[float] | np.ndarray) -> np.ndarray:
        return self.render_many(prepared, [validate_z(z)])[0]

    def render_many(self, prepared: Prepared, zs: Sequence[Sequence[float]] | np.ndarray) -> list[np.ndarray]:
        arr = validate_z(zs, what="AU vectors")
        arr = arr[None] if arr.ndim == 1 else arr
        edited = self.edit_crops(prepared.crop.image, arr)
        return [self._finish(prepared, image) for image in edited]

    def edit_crops(self, crop: np.ndarray, zs: np.ndarray) -> np.ndarray:
        """(n, S, S, 3) uint8: the generator crop edited to each AU vector of ``zs`` (n, 17)."""
        import torch

        out = []
        x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div(127.5).sub(1.0)
        with torch.inference_mode():
            for start in range(0, len(zs), self.batch_size):
                z = torch.as_tensor(np.asarray(zs[start:start + self.batch_size], dtype=np.float32), device=self.device)
                images = x[None].expand(len(z), -1, -1, -1).to(self.device)
                edited = self.net.edit(images, z)
                pixels = edited.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
                out.append(pixels.permute(0, 2, 3, 1).cpu().numpy())
        return np.concatenate(out, axis=0)

    def _finish(self, prepared: Prepared, edited: np.ndarray) -> np.ndarray:
        if self.paste:
            return paste_back(prepared.crop, edited)
        if edited.shape[0] == prepared.size:
            return edited
        import cv2

        return cv2.resize(edited, (prepared.size, prepared.size), interpolation=cv2.INTER_AREA)

    def describe(self) -> dict:
        """What a manifest records about this generator."""
        return {"generator": self.name, "weights": self.weights, "weights_sha256": self.weights_sha256,
                "device": str(self.device), "paste": self.paste}

    def __repr__(self) -> str:
        return f"GANimationGenerator(weights={Path(self.weights).name!r}, device={str(self.device)!r})"
