"""The zoo's architectures: variants, published layouts, input checks, and the classical SVM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from miex.errors import MiexError
from miex.models import create
from miex.seeding import rng


def _x(model, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(model.input_spec.shape(batch), generator=torch.Generator().manual_seed(seed))


def test_elrcn_spatial_and_temporal_enrichment() -> None:
    se = create("elrcn", image_size=32, frames=4, width=4, hidden=8, seed=0)
    te = create("elrcn", image_size=32, frames=4, width=4, hidden=8, variant="te", seed=0)
    assert se.input_spec.channel_names == ("gray", "u", "v", "strain") and se.input_spec.kind == "flow_sequence"
    assert len(se.encoders) == 1 and [e.conv1.in_channels for e in te.encoders] == [1, 2, 1]
    x = _x(se)
    assert se(x).shape == te(x).shape == (2, 3)
    with pytest.raises(MiexError, match="variant"):
        create("elrcn", variant="both")


def test_elrcn_reads_the_whole_sequence() -> None:
    model = create("elrcn", image_size=32, frames=4, width=4, hidden=8, seed=0).eval()
    x = _x(model, 1)
    y = x.clone()
    y[:, :, 0] += 1.0  # change only the first frame
    with torch.no_grad():
        assert not torch.allclose(model(x), model(y))


def test_dssn_stream_pairs_and_fusion() -> None:
    model = create("dssn", streams=("gray", "flow"), fusion="add", seed=0)
    assert model.input_spec.channel_names == ("gray", "u", "v") and model.input_spec.size == 28
    assert model(_x(model)).shape == (2, 3)
    for bad in (("flow",), ("flow", "flow"), ("flow", "depth")):
        with pytest.raises(MiexError, match="streams"):
            create("dssn", streams=bad)


def test_microexp_models_follow_the_public_code() -> None:
    stcnn = create("microexp_stcnn")
    assert stcnn.input_spec.shape(1) == (1, 3, 18, 64, 64) and stcnn.input_spec.option("resample") == "tim"
    conv = stcnn.stream[0]
    assert conv.kernel_size == (15, 3, 3) and conv.out_channels == 32
    assert stcnn.head[0].in_features == 32 * 1 * 20 * 20  # (18 - 15 + 1) // 3, (64 - 2) // 3
    fuse = create("microexp_fusenet")
    assert fuse.input_spec.shape(1) == (1, 2, 1, 18, 32, 32) and fuse.input_spec.option("regions") == ("eyes", "mouth")
    late = create("microexp_fusenet", image_size=16, frames=6, temporal_kernel=3, fusion="late", seed=0)
    assert late(_x(late)).shape == (2, 3)
    with pytest.raises(MiexError, match="too few"):
        create("microexp_stcnn", frames=10)


def test_atnet_temporal_branch_sees_differences_from_the_apex() -> None:
    model = create("atnet", image_size=32, width=4, seed=0).eval()
    seen = []
    model.temporal.conv1.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    still = _x(model, 2)[:, 1:2].repeat(1, 3, 1, 1, 1)  # every frame equals the apex
    with torch.no_grad():
        model(still)
    assert seen[0].shape == (2, 6, 32, 32) and torch.count_nonzero(seen[0]) == 0
    with pytest.raises(MiexError, match="at least 2"):
        create("atnet", frames=1)


def test_htnet_mosaic_and_published_hierarchy() -> None:
    model = create("htnet", dim=8, depths=(1, 1, 1), seed=0)
    spec = model.input_spec
    assert spec.shape(1) == (1, 4, 3, 14, 14) and spec.option("regions") == ("l_eye", "l_lips", "r_eye", "r_lips")
    x = torch.arange(4.0).view(1, 4, 1, 1, 1).expand(1, 4, 3, 14, 14)
    m = model.mosaic(x)[0, 0]
    assert (m[:14, :14] == 0).all() and (m[:14, 14:] == 1).all()
    assert (m[14:, :14] == 2).all() and (m[14:, 14:] == 3).all()
    # the published configuration: 4x4 patches of 7 px, blocks of one patch at every level, widths x2 per level
    assert [lv.blocks for lv in model.levels] == [4, 2, 1] and [lv.pos.numel() for lv in model.levels] == [1, 1, 1]
    assert [lv.layers[0].attn.heads for lv in model.levels] == [3, 6, 12]
    assert model(_x(model)).shape == (2, 3)
    with pytest.raises(MiexError, match="one depth per level"):
        create("htnet", depths=(2, 2))


def test_dtscnn_takes_two_channel_flow_sequences() -> None:
    model = create("dtscnn", in_chans=2, image_size=16, frames=(4, 8), width=4, seed=0)
    spec = model.input_spec
    assert (spec.kind, spec.channel_names, spec.frames, spec.option("ref")) == ("flow_sequence", ("u", "v"), 8,
                                                                                "previous")
    assert model(_x(model)).shape == (2, 3)
    with pytest.raises(MiexError, match="in_chans must be 3"):
        create("dtscnn", in_chans=4)


def test_micro_attention_units_rescale_features() -> None:
    model = create("micro_attention", image_size=32, width=4, seed=0).eval()
    assert len(model.attention) == 3
    x = _x(model, 1)
    with torch.no_grad():
        base = model.backbone.layer1(model.backbone.maxpool(model.backbone.relu(model.backbone.bn1(
            model.backbone.conv1(x)))))
        out = model.attention[0](base)
    ratio = out[base > 0] / base[base > 0]
    assert ratio.min() >= 1.0 and ratio.max() <= 2.0  # F * (1 + sigmoid(mask))


def test_classical_svm_fits_scores_and_refuses_weights() -> None:
    model = create("bi_woof", blocks=2, bins=4)
    dim = model.input_spec.shape(1)[1]
    assert dim == 16
    gen = rng(0, "svm-test")
    centres = gen.normal(size=(3, dim)) * 3
    y = np.repeat([0, 1, 2], 20)
    x = centres[y] + gen.normal(size=(60, dim))
    model.fit(x, y, seed=0)
    assert model.scores(x).shape == (60, 3) and (model.scores(x).argmax(1) == y).mean() > 0.9
    two = create("lbp_top", blocks=(1, 1)).fit(gen.normal(size=(10, 177)), np.repeat([0, 2], 5))
    s = two.scores(gen.normal(size=(4, 177)))
    assert s.shape == (4, 3) and (s[:, 1] == -1e3).all()
    with pytest.raises(MiexError, match="init_weights"):
        model.load_state_dict({})
    with pytest.raises(MiexError, match=r"expected features \(n, 16\)"):
        model.scores(np.zeros((2, 5)))


def test_published_composite_figures_name_their_model_and_protocol() -> None:
    from miex.evaluate.leaderboard import COMPOSITE_LOSO, published
    from miex.models import list_models

    assert {e.model for e in COMPOSITE_LOSO if e.model} <= set(list_models())
    (htnet,) = published("htnet")
    assert (htnet.uf1, htnet.uar, htnet.optimistic) == (0.860, 0.848, True) and "LOSO" in htnet.protocol
    assert [(e.uf1, e.uar) for e in published("lbp_top") + published("bi_woof")] == [(0.588, 0.579), (0.630, 0.623)]
    assert published("elrcn") == ()
