"""MA2MI-style pre-training of MIACNet on macro-expression videos (Li, Niu & Zhao, "From Macro to
Micro: Boosting micro-expression recognition via pre-training on macro-expression videos", 2024).

- :mod:`miex.train.ma2mi.config`: the TOML config of ``miex pretrain ma2mi``;
- :mod:`miex.train.ma2mi.data`: (first frame, frame t, frame t + k) samples of preprocessed clips
  (:mod:`miex.datasets.videos`);
- :mod:`miex.train.ma2mi.model`: the encoders, predictor and EMA target, and every design choice;
- :mod:`miex.train.ma2mi.run`: the resumable run (DDP, bf16 on CUDA) and its run folder.

The run's ``checkpoints/last.pt`` initialises a MIACNet recognition run via ``[model] init_weights``.
"""

from __future__ import annotations

from miex.train.ma2mi.config import PretrainConfig, load_config, validate
from miex.train.ma2mi.run import PretrainResult, pretrain_ma2mi

__all__ = ["PretrainConfig", "PretrainResult", "load_config", "pretrain_ma2mi", "validate"]
