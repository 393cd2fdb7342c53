"""Recognition models: ``create(name, num_classes=3, **options)``, ``list_models()``.

Every neural model is an ``nn.Module`` returning logits (B, num_classes) with an ``input_spec``
(see :class:`miex.models.spec.InputSpec` and docs/INTERFACES.md); the classical baselines
(``lbp_top``, ``bi_woof``) are :class:`ClassicalModel` s (features + linear SVM). docs/models.md
lists every model.
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
from miex.models.elrcn import ELRCN
from miex.models.dssn import DSSN
from miex.models.micro_attention import MicroAttentionNet
from miex.models.microexp import MicroExpFuseNet, MicroExpSTCNN
from miex.models.atnet import ATNet
from miex.models.htnet import HTNet
from miex.models.classical import ClassicalModel, is_classical
from miex.models import bi_woof as _bi_woof, lbp_top as _lbp_top  # noqa: F401 - register the classical models

__all__ = [
    "create", "list_models", "model_options", "register_model", "InputSpec", "read_state_dict",
    "ResNet18", "load_backbone_weights", "MiEHead", "ApexME", "Branches", "STSTNet", "OFFApexNet",
    "DTSCNN", "MIACNet", "ELRCN", "DSSN", "MicroAttentionNet", "MicroExpSTCNN", "MicroExpFuseNet", "ATNet", "HTNet",
    "ClassicalModel", "is_classical",
]
