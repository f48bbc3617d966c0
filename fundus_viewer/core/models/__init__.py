from fundus_viewer.core.models.architectures import ARCHITECTURES, build_network
from fundus_viewer.core.models.checkpoint import load_classifier, save_classifier
from fundus_viewer.core.models.classifier import ClassifierSpec, GlaucomaClassifier

__all__ = [
    "ARCHITECTURES",
    "ClassifierSpec",
    "GlaucomaClassifier",
    "build_network",
    "load_classifier",
    "save_classifier",
]
