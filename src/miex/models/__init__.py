"""Recognition models: ``create(name, num_classes=3, **options)``, ``list_models()``.

Every model is an ``nn.Module`` returning logits (B, num_classes) with an ``input_spec``
(see :class:`miex.models.spec.InputSpec` and docs/INTERFACES.md).
"""

from __future__ import annotations

from miex.models.registry import create, list_models, model_options, register_model
from miex.models.spec import InputSpec
from miex.models.weights import read_state_dict
from miex.models.resnet import ResNet18, load_backbone_weights
from miex.models.heads import MiEHead
from miex.models.apexme import ApexME
from miex.models.branches import Branches
from miex.models.ststnet import STSTNet
from miex.models.offapexnet import OFFApexNet
from miex.models.dtscnn import DTSCNN
from miex.models.miacnet import MIACNet

__all__ = [
    "create", "list_models", "model_options", "register_model", "InputSpec", "read_state_dict",
    "ResNet18", "load_backbone_weights", "MiEHead", "ApexME", "Branches", "STSTNet", "OFFApexNet",
    "DTSCNN", "MIACNet",
]
