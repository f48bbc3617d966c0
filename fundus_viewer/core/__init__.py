"""The Qt-free core: images, models, the pathology-aware visualiser, baselines and metrics.

Scripting API::

    from fundus_viewer.core import load_image, load_classifier, PathologyVisualizer
    analysis = PathologyVisualizer(load_classifier("model.safetensors")).analyze(load_image("eye.jpg"))
    maps = analysis.heatmaps(theta_act=0.1, cmi_low=0.1, cmi_high=0.9)   # cheap: no network pass
    maps.rl, maps.rnfld, maps.counts

Names are imported on first use, so ``import fundus_viewer.core.images`` does not pull in torch.
"""

from importlib import import_module

_EXPORTS = {
    "FundusImage": "fundus_viewer.core.images",
    "load_image": "fundus_viewer.core.images",
    "list_images": "fundus_viewer.core.images",
    "InputTransform": "fundus_viewer.core.transform",
    "find_field_of_view": "fundus_viewer.core.fov",
    "ClassifierSpec": "fundus_viewer.core.models.classifier",
    "GlaucomaClassifier": "fundus_viewer.core.models.classifier",
    "load_classifier": "fundus_viewer.core.models.checkpoint",
    "save_classifier": "fundus_viewer.core.models.checkpoint",
    "PathologyVisualizer": "fundus_viewer.core.visualization.pathology",
    "PathologyAnalysis": "fundus_viewer.core.visualization.pathology",
    "pathology_maps": "fundus_viewer.core.visualization.pathology",
    "Thresholds": "fundus_viewer.core.visualization.selection",
    "centroid_moment_of_inertia": "fundus_viewer.core.visualization.selection",
    "combine_maps": "fundus_viewer.core.visualization.combine",
    "compute_baselines": "fundus_viewer.core.visualization.baselines",
    "baseline_map": "fundus_viewer.core.visualization.baselines",
    "cam_grid": "fundus_viewer.core.visualization.baselines",
    "gbp_grid": "fundus_viewer.core.visualization.baselines",
    "smoothgrad_grid": "fundus_viewer.core.visualization.baselines",
    "occlusion_grid": "fundus_viewer.core.visualization.baselines",
    "localization_accuracy": "fundus_viewer.core.metrics",
    "load_coco": "fundus_viewer.core.boxes",
    "save_coco": "fundus_viewer.core.boxes",
    "evaluate_localization": "fundus_viewer.core.evaluation",
    "select_device": "fundus_viewer.core.device",
    "FundusViewerError": "fundus_viewer.core.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fundus_viewer.core' has no attribute {name!r}")
