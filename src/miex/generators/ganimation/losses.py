"""GANimation's losses (Pumarola et al., ECCV 2018, Sec. 4; weights as in the public code).

Critic: WGAN (``-mean D(real) + mean D(fake)``) + gradient penalty (Gulrajani et al., 2017) +
AU regression on real images. Generator: WGAN (``-mean D(fake)``) + AU regression of the
critic on the edited image against the target AUs + cycle L1 (edit back to the source AUs) +
attention mean and attention smoothness on both attention maps.
"""

from __future__ import annotations

import torch
from torch import nn


def wgan_critic(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(-mean D(real), mean D(fake))``."""
    return -real_scores.float().mean(), fake_scores.float().mean()


def au_regression(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over samples and AUs (the replicate code's MSELoss)."""
    return torch.mean((predicted.float() - target.float()) ** 2)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``mean((||grad_x D(x)||_2 - 1)^2)`` at ``x = alpha * real + (1 - alpha) * fake``."""
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores, _ = critic(mixed)
    (grad,) = torch.autograd.grad(scores.float().sum(), mixed, create_graph=True)
    norms = grad.float().flatten(1).norm(2, dim=1)
    return torch.mean((norms - 1.0) ** 2)


def smoothness(attention: torch.Tensor) -> torch.Tensor:
    """Total variation of the attention map: summed absolute neighbour differences (official code)."""
    a = attention.float()
    return (a[:, :, :, 1:] - a[:, :, :, :-1]).abs().sum() + (a[:, :, 1:, :] - a[:, :, :-1, :]).abs().sum()
