"""HTNet (Wang, Zhang, Wang, Wei & Wang, "HTNet for micro-expression recognition",
Neurocomputing 2024; code: github.com/wangzhifengharrison/HTNet): a hierarchical transformer
over four facial regions of the onset->apex optical flow.

Input, as in the authors' code: the flow features (u, v, optical strain; min-max scaled, the
STSTNet maps) at 28x28; five facial points located on the apex frame; 14x14 windows around the
left eye, left mouth corner, right eye and right mouth corner (moved inside the map when they
cross its border), tiled 2x2 as [[left eye, left lips], [right eye, right lips]] into one 28x28
image. The network is a nested hierarchical transformer (NesT, Zhang et al., AAAI 2022):
7x7 patches -> 1x1-conv embedding (``dim``), then ``levels`` hierarchies; at each level the
map is cut into blocks, every block goes through ``depth[i]`` pre-norm transformer layers
(multi-head self-attention over the block's positions with a learned position embedding, and
a 1x1-conv MLP), then blocks are aggregated (Conv 3x3 -> channel LayerNorm -> MaxPool 3/2),
doubling the width and the heads. Head: LayerNorm -> global mean -> Linear. The defaults are
the published configuration: dim 256, heads 3, 3 levels, depths (2, 2, 10), MLP ratio 4.

What miex changed: the code finds the points with MTCNN on the 28x28 apex and indexes the map
with (x, y) swapped; miex uses dlib's 68 landmarks on the full-resolution apex
(:mod:`miex.features.regions`, mouth corners = points 48 and 54) and crops rows at y, columns
at x. The code's weights for the three datasets are per-subject test-selected.
Input kind ``"regions"`` (B, 4, 3, 14, 14).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from miex.errors import MiexError
from miex.features.regions import HTNET_REGIONS
from miex.models.base import MiexModel
from miex.models.registry import register_model
from miex.models.spec import InputSpec


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)
        return (x - mean) / (var + self.eps).sqrt() * self.weight + self.bias


class MapAttention(nn.Module):
    """Multi-head self-attention over the positions of a (B, C, H, W) map (1x1-conv projections)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = max(dim // heads, 1)
        inner = self.head_dim * heads
        self.qkv = nn.Conv2d(dim, 3 * inner, 1, bias=False)
        self.out = nn.Sequential(nn.Conv2d(inner, dim, 1), nn.Dropout(dropout))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, self.head_dim, h * w).transpose(2, 3)
                   for t in self.qkv(x).chunk(3, dim=1))
        attn = self.dropout(torch.softmax(q @ k.transpose(2, 3) * self.head_dim ** -0.5, dim=-1))
        y = (attn @ v).transpose(2, 3).reshape(b, self.heads * self.head_dim, h, w)
        return self.out(y)


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.attn = ChannelNorm(dim), MapAttention(dim, heads, dropout)
        self.norm2 = ChannelNorm(dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, dim * mlp_ratio, 1), nn.GELU(), nn.Dropout(dropout),
                                 nn.Conv2d(dim * mlp_ratio, dim, 1), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Level(nn.Module):
    """One hierarchy: the map cut into ``blocks`` x ``blocks`` blocks, transformers per block."""

    def __init__(self, dim: int, heads: int, depth: int, seq_len: int, blocks: int, mlp_ratio: int,
                 dropout: float, out_dim: int | None) -> None:
        super().__init__()
        self.blocks = blocks
        self.pos = nn.Parameter(torch.randn(seq_len))
        self.layers = nn.Sequential(*(TransformerLayer(dim, heads, mlp_ratio, dropout) for _ in range(depth)))
        self.aggregate: nn.Module = nn.Identity() if out_dim is None else nn.Sequential(
            nn.Conv2d(dim, out_dim, 3, padding=1), ChannelNorm(out_dim), nn.MaxPool2d(3, stride=2, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n = self.blocks
        bh, bw = h // n, w // n
        x = x.reshape(b, c, n, bh, n, bw).permute(0, 2, 4, 1, 3, 5).reshape(b * n * n, c, bh, bw)
        x = self.layers(x + self.pos[: bh * bw].reshape(1, 1, bh, bw))
        x = x.reshape(b, n, n, c, bh, bw).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)
        return self.aggregate(x)


@register_model("htnet")
class HTNet(MiexModel):
    """Hierarchical transformer on the 2x2 mosaic of four flow regions (module docstring)."""

    fixed_size = True

    def __init__(
        self,
        num_classes: int = 3,
        patch_size: int = 7,
        region_size: int = 14,
        dim: int = 256,
        heads: int = 3,
        levels: int = 3,
        depths: Sequence[int] = (2, 2, 10),
        mlp_ratio: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        image = 2 * int(region_size)
        levels, patch = int(levels), int(patch_size)
        depths = tuple(int(d) for d in depths)
        if len(depths) != levels or image % patch:
            raise MiexError(f"htnet: need one depth per level ({levels}) and a region size divisible by "
                            f"patch_size/2, got depths {depths}, region_size {region_size}, patch_size {patch}")
        grid = image // patch
        blocks = 2 ** (levels - 1)
        if grid % blocks:
            raise MiexError(f"htnet: a {grid}x{grid} patch grid cannot be split into {blocks}x{blocks} blocks")
        self.num_classes = int(num_classes)
        self.input_spec = InputSpec("regions", int(region_size), channels=3, channel_names=("u", "v", "strain"),
                                    mean=None, std=None,
                                    options=(("regions", HTNET_REGIONS), ("map_size", image)))
        self.patch = patch
        self.embed = nn.Conv2d(3 * patch * patch, int(dim), 1)
        seq_len = (grid // blocks) ** 2
        stages = []
        for i in range(levels):
            d, last = int(dim) * 2**i, i == levels - 1
            stages.append(Level(d, int(heads) * 2**i, depths[i], seq_len, 2 ** (levels - 1 - i), int(mlp_ratio),
                                dropout, None if last else 2 * d))
        self.levels = nn.Sequential(*stages)
        final = int(dim) * 2 ** (levels - 1)
        self.norm = ChannelNorm(final)
        self.fc = nn.Linear(final, num_classes)

    def mosaic(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, C, s, s) regions -> (B, C, 2s, 2s): [[l_eye, l_lips], [r_eye, r_lips]]."""
        top = torch.cat([x[:, 0], x[:, 1]], dim=3)
        bottom = torch.cat([x[:, 2], x[:, 3]], dim=3)
        return torch.cat([top, bottom], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        img = self.mosaic(x)
        b, c, h, w = img.shape
        p = self.patch
        patches = img.reshape(b, c, h // p, p, w // p, p).permute(0, 3, 5, 1, 2, 4)
        patches = patches.reshape(b, p * p * c, h // p, w // p)  # (p1 p2 c) per patch, as HTNet's code
        y = self.norm(self.levels(self.embed(patches)))
        return self.fc(y.mean(dim=(2, 3)))
