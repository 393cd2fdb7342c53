"""GANimation networks: the attention generator and the PatchGAN critic with an AU head.

Pumarola, Agudo, Martinez, Sanfeliu, Moreno-Noguer: *GANimation: Anatomically-aware Facial
Animation from a Single Image*, ECCV 2018. The layer layout follows the two public
implementations (``albertpumarola/GANimation`` and ``donydchen/ganimation_replicate``);
this module is miex's own code with its own parameter names -- :mod:`.checkpoints` maps the
public state_dict layouts onto it.

Generator (defaults: ``ngf`` 64, 6 residual blocks, 17 AUs)::

    image (3) ⊕ AU vector tiled over the image (17)
    -> Conv7 64 -> IN -> ReLU
    -> Conv4/2 128 -> IN -> ReLU -> Conv4/2 256 -> IN -> ReLU
    -> 6 x [Conv3 -> IN -> ReLU -> Conv3 -> IN] + skip
    -> ConvT4/2 128 -> IN -> ReLU -> ConvT4/2 64 -> IN -> ReLU
    -> colour head Conv7 -> 3, tanh      (C)
    -> attention head Conv7 -> 1, sigmoid (A)

The edited image is ``A * input + (1 - A) * C`` (:func:`compose`). The two public flavours
differ only in the trunk's parameters: ``ganimation_replicate`` has biased convolutions and
InstanceNorm without affine parameters (``conv_bias=True, affine=False``); the official
GANimation code has unbiased convolutions and affine InstanceNorm (``conv_bias=False,
affine=True``). Neither normalisation keeps running statistics, so train and eval mode give
the same output.

Critic: ``n_layers`` stride-2 Conv4 (bias) + LeakyReLU(0.01), channels doubling from ``ndf``;
a patch head Conv3 -> 1 (the WGAN real/fake map) and an AU head whose kernel covers the whole
remaining feature map (-> 17 AU intensities).
"""

from __future__ import annotations

import torch
from torch import nn

N_DOWN = 2


class ResidualBlock(nn.Module):
    """Conv3 -> IN -> ReLU -> Conv3 -> IN, added to the input."""

    def __init__(self, dim: int, *, conv_bias: bool, affine: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, 1, 1, bias=conv_bias)
        self.norm1 = nn.InstanceNorm2d(dim, affine=affine)
        self.conv2 = nn.Conv2d(dim, dim, 3, 1, 1, bias=conv_bias)
        self.norm2 = nn.InstanceNorm2d(dim, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm1(self.conv1(x)))
        return x + self.norm2(self.conv2(h))


class ConvNormReLU(nn.Module):
    """One (transposed) convolution, InstanceNorm, ReLU."""

    def __init__(self, conv: nn.Module, channels: int, *, affine: bool) -> None:
        super().__init__()
        self.conv = conv
        self.norm = nn.InstanceNorm2d(channels, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x)))


class GANimationNet(nn.Module):
    """The GANimation generator: ``forward(images, aus) -> (color, attention)``.

    ``images``: (N, 3, H, W) in [-1, 1]; ``aus``: (N, n_aus) AU intensities z in [0, 1]
    (miex / OpenFace order). Returns the colour map (N, 3, H, W) in [-1, 1] and the
    attention map (N, 1, H, W) in [0, 1], exactly as the reference code does.
    """

    def __init__(self, ngf: int = 64, n_blocks: int = 6, n_aus: int = 17, *,
                 conv_bias: bool = True, affine: bool = False) -> None:
        super().__init__()
        self.config = dict(ngf=int(ngf), n_blocks=int(n_blocks), n_aus=int(n_aus),
                           conv_bias=bool(conv_bias), affine=bool(affine))
        b = dict(bias=conv_bias)
        self.stem = ConvNormReLU(nn.Conv2d(3 + n_aus, ngf, 7, 1, 3, **b), ngf, affine=affine)
        self.down = nn.ModuleList(
            ConvNormReLU(nn.Conv2d(ngf * 2**i, ngf * 2 ** (i + 1), 4, 2, 1, **b), ngf * 2 ** (i + 1), affine=affine)
            for i in range(N_DOWN)
        )
        width = ngf * 2**N_DOWN
        self.blocks = nn.ModuleList(ResidualBlock(width, conv_bias=conv_bias, affine=affine) for _ in range(n_blocks))
        self.up = nn.ModuleList(
            ConvNormReLU(nn.ConvTranspose2d(width // 2**i, width // 2 ** (i + 1), 4, 2, 1, **b),
                         width // 2 ** (i + 1), affine=affine)
            for i in range(N_DOWN)
        )
        self.color_head = nn.Conv2d(ngf, 3, 7, 1, 3, bias=False)
        self.attention_head = nn.Conv2d(ngf, 1, 7, 1, 3, bias=False)

    @property
    def n_aus(self) -> int:
        return self.config["n_aus"]

    def features(self, images: torch.Tensor, aus: torch.Tensor) -> torch.Tensor:
        tiled = aus.to(images.dtype)[:, :, None, None].expand(-1, -1, images.shape[2], images.shape[3])
        h = self.stem(torch.cat([images, tiled], dim=1))
        for layer in self.down:
            h = layer(h)
        for block in self.blocks:
            h = block(h)
        for layer in self.up:
            h = layer(h)
        return h

    def forward(self, images: torch.Tensor, aus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(images, aus)
        return torch.tanh(self.color_head(h)), torch.sigmoid(self.attention_head(h))

    def edit(self, images: torch.Tensor, aus: torch.Tensor) -> torch.Tensor:
        """The edited images ``A * images + (1 - A) * C``."""
        color, attention = self(images, aus)
        return compose(images, color, attention)


def compose(images: torch.Tensor, color: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """GANimation's output: keep the input where the attention is 1, paint the colour elsewhere."""
    return attention * images + (1.0 - attention) * color


class GANimationCritic(nn.Module):
    """PatchGAN critic with an AU regression head: ``forward(images) -> (patch_map, aus)``.

    ``patch_map``: (N, 1, h, w) WGAN scores; ``aus``: (N, n_aus) regressed intensities.
    ``image_size`` must be divisible by ``2 ** n_layers`` (128 with 6 layers: a 2 x 2 map).
    """

    def __init__(self, image_size: int = 128, ndf: int = 64, n_layers: int = 6, n_aus: int = 17) -> None:
        super().__init__()
        if image_size % 2**n_layers:
            raise ValueError(f"image_size {image_size} is not divisible by 2**{n_layers}")
        self.config = dict(image_size=int(image_size), ndf=int(ndf), n_layers=int(n_layers), n_aus=int(n_aus))
        layers: list[nn.Module] = []
        channels, width = 3, ndf
        for _ in range(n_layers):
            layers += [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.01)]
            channels, width = width, width * 2
        self.trunk = nn.Sequential(*layers)
        self.patch_head = nn.Conv2d(channels, 1, 3, 1, 1, bias=False)
        self.au_head = nn.Conv2d(channels, n_aus, image_size // 2**n_layers, bias=False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(images)
        return self.patch_head(h), self.au_head(h).flatten(1)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """The reference initialisation: conv weights N(0, gain), biases 0 (affine norms keep 1/0)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
