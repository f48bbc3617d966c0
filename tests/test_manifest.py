"""One manifest reader for the trainer and the batch runner: stripped values, roles checked, true lines."""

import pytest

from fundus_viewer.core.batch.inputs import DataSourceError, collect_items
from fundus_viewer.core.manifest import ManifestError, read_manifest
from trainer.sources import DataError, read_labelled_photos


def _photos(folder, names):
    for name in names:
        (folder / name).write_bytes(b"")


def test_a_misspelled_label_is_named_at_its_true_line(tmp_path):
    _photos(tmp_path, ["a.png", "b.png", "c.png"])
    manifest = tmp_path / "m.csv"
    # two blank lines and a quoted value over two lines before the typo: it is on line 7
    manifest.write_text('path,label,dataset\na.png,normal,"two\nlines"\n\n\nb.png,glaucoma,x\nc.png,nromal,x\n')
    with pytest.raises(DataError, match=r"line 7: label 'nromal'"):
        read_labelled_photos(manifest)


def test_a_role_with_capitals_or_spaces_is_the_role_and_a_typo_is_refused(tmp_path):
    _photos(tmp_path, ["a.png", "b.png"])
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,role\n a.png ,normal, Photo \nb.png,glaucoma,photo\n")
    samples = read_labelled_photos(manifest)
    assert sorted(s.path.name for s in samples) == ["a.png", "b.png"]  # neither dropped
    manifest.write_text("path,label,role\na.png,normal,photo\nb.png,glaucoma,phtoo\n")
    with pytest.raises(DataError, match=r"line 3: unknown role 'phtoo'"):
        read_labelled_photos(manifest)
    with pytest.raises(DataSourceError, match=r"line 3: unknown role 'phtoo'"):
        collect_items([manifest])


def test_rows_keep_their_lines_and_the_bom_is_no_column(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("\ufeffpath,role\nx.png,photo\n\ny.png,disc_mask\n".encode())
    rows = read_manifest(manifest, ("path", "role"))
    assert [(r["path"], r.role, r.line) for r in rows] == [("x.png", "photo", 2), ("y.png", "disc_mask", 4)]
    manifest.write_text("path,role\n")
    with pytest.raises(ManifestError, match="no rows"):
        read_manifest(manifest)
