"""Independent re-statements of the two public GANimation networks, for checkpoint tests.

They mirror the reference code's ``nn.Sequential`` structure so that their ``state_dict`` keys
come out exactly as in the published checkpoints:

- :class:`ReplicateGenerator` / :class:`ReplicateCritic`: ``donydchen/ganimation_replicate``
  ``model/model_utils.py`` (``SplitGenerator`` with zero-padded ``ResnetBlock``s and
  InstanceNorm(affine=False); ``SplitDiscriminator``);
- :class:`OfficialGenerator` / :class:`OfficialCritic`: ``albertpumarola/GANimation``
  ``networks/generator_wasserstein_gan.py`` and ``discriminator_wasserstein_gan.py``.

Nothing here is imported from miex.
"""

from __future__ import annotations

import torch
from torch import nn


class ReplicateResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, bias=True), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.Conv2d(dim, dim, 3, padding=1, bias=True), nn.InstanceNorm2d(dim),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class ReplicateGenerator(nn.Module):
    def __init__(self, ngf: int = 64, n_blocks: int = 6, aus_nc: int = 17) -> None:
        super().__init__()
        model = [nn.Conv2d(3 + aus_nc, ngf, 7, 1, 3, bias=True), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2**i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 4, 2, 1, bias=True), nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
        model += [ReplicateResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=True),
                      nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
        self.model = nn.Sequential(*model)
        self.color_top = nn.Sequential(nn.Conv2d(ngf, 3, 7, 1, 3, bias=False), nn.Tanh())
        self.au_top = nn.Sequential(nn.Conv2d(ngf, 1, 7, 1, 3, bias=False), nn.Sigmoid())

    def forward(self, img, au):
        sparse = au[:, :, None, None].expand(au.size(0), au.size(1), img.size(2), img.size(3))
        feats = self.model(torch.cat([img, sparse], 1))
        return self.color_top(feats), self.au_top(feats)


class OfficialResidualBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim, affine=True), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim, affine=True),
        )

    def forward(self, x):
        return x + self.main(x)


class OfficialGenerator(nn.Module):
    def __init__(self, conv_dim: int = 64, c_dim: int = 17, repeat_num: int = 6) -> None:
        super().__init__()
        layers = [nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False), nn.InstanceNorm2d(conv_dim, affine=True), nn.ReLU(inplace=True)]
        dim = conv_dim
        for _ in range(2):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), nn.InstanceNorm2d(dim * 2, affine=True), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [OfficialResidualBlock(dim) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), nn.InstanceNorm2d(dim // 2, affine=True), nn.ReLU(inplace=True)]
            dim //= 2
        self.main = nn.Sequential(*layers)
        self.img_reg = nn.Sequential(nn.Conv2d(dim, 3, 7, 1, 3, bias=False), nn.Tanh())
        self.attetion_reg = nn.Sequential(nn.Conv2d(dim, 1, 7, 1, 3, bias=False), nn.Sigmoid())

    def forward(self, x, c):
        c = c[:, :, None, None].expand(c.size(0), c.size(1), x.size(2), x.size(3))
        feats = self.main(torch.cat([x, c], 1))
        return self.img_reg(feats), self.attetion_reg(feats)


class ReplicateCritic(nn.Module):
    def __init__(self, image_size: int = 128, ndf: int = 64, n_layers: int = 6, aus_nc: int = 17) -> None:
        super().__init__()
        seq = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.01, True)]
        dim = ndf
        for _ in range(1, n_layers):
            seq += [nn.Conv2d(dim, 2 * dim, 4, 2, 1, bias=True), nn.LeakyReLU(0.01, True)]
            dim *= 2
        self.model = nn.Sequential(*seq)
        self.dis_top = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.aus_top = nn.Conv2d(dim, aus_nc, image_size // 2**n_layers, 1, bias=False)

    def forward(self, img):
        h = self.model(img)
        return self.dis_top(h), self.aus_top(h)


class OfficialCritic(nn.Module):
    def __init__(self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 17, repeat_num: int = 6) -> None:
        super().__init__()
        layers = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01, inplace=True)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01, inplace=True)]
            dim *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, image_size // 2**repeat_num, bias=False)

    def forward(self, x):
        h = self.main(x)
        return self.conv1(h), self.conv2(h)


def randomise(net: nn.Module, seed: int) -> nn.Module:
    """Non-trivial weights: every parameter (affine norms included) drawn from a seeded normal."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            scale = 0.2 if p.ndim == 1 else 0.05
            base = 1.0 if name.endswith("weight") and p.ndim == 1 else 0.0
            p.copy_(base + scale * torch.randn(p.shape, generator=gen))
    return net.eval()
