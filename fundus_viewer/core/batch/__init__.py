"""Whole data sets: photos listed from a folder, a manifest or DICOM files (``inputs``), decoded and
prepared in DataLoader workers (``loader``), run through a network in batches, recorded one row per
photo in a crash-safe journal (``journal``) and, for heat maps, a chunked zarr store (``store``);
``runner`` ties them together, resumable and sharded under torchrun."""
