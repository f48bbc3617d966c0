"""Errors a user can act on. Each message names the file and what is wrong with it."""


class FundusViewerError(Exception):
    """Base class: the CLI prints these as one line and exits 2; the GUI shows a dialog."""


class ImageLoadError(FundusViewerError):
    """A photo could not be turned into an RGB array."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageNotFoundError(ImageLoadError):
    pass


class EmptyImageFileError(ImageLoadError):
    pass


class NotAnImageError(ImageLoadError):
    pass


class TruncatedImageError(ImageLoadError):
    pass


class ImageTooLargeError(ImageLoadError):
    pass


class BlankImageError(ImageLoadError):
    pass


class CheckpointError(FundusViewerError):
    """A model file is missing, is not a Fundus Viewer checkpoint, or does not fit its architecture."""


class BoxesError(FundusViewerError):
    """A ground-truth box file is unreadable or inconsistent."""
