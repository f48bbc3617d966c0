"""Fundus Viewer: pathology-aware glaucoma heat maps for colour fundus photos.

The scripting API lives in :mod:`fundus_viewer.core`; importing this package stays cheap
(no torch) so that the GUI can show its first window before the models load.
"""

__version__ = "0.1.0"
