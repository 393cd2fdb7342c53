"""GANimation (Pumarola et al., ECCV 2018) as a miex generator backend.

- :mod:`.networks` -- the attention generator :class:`GANimationNet` and the critic;
- :mod:`.checkpoints` -- :func:`load_network` reads both public checkpoint layouts;
- :mod:`.crop` -- the face framing the checkpoints were trained on;
- :mod:`.backend` -- :class:`GANimationGenerator`, registered as ``"ganimation"``;
- :mod:`.training` -- ``miex generator train`` (WGAN-GP, AU, cycle and attention losses).
"""

from __future__ import annotations

from miex.generators.ganimation.backend import GANimationGenerator
from miex.generators.ganimation.checkpoints import file_sha256, load_critic, load_network, save_network
from miex.generators.ganimation.networks import GANimationCritic, GANimationNet, compose

__all__ = [
    "GANimationCritic",
    "GANimationGenerator",
    "GANimationNet",
    "compose",
    "file_sha256",
    "load_critic",
    "load_network",
    "save_network",
]
