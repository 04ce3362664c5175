"""Copying a path out of unpacked layers: overlayfs's merge rules, without a mount."""

import os
from pathlib import Path

from pouch.mgr.layerdirs import bytes_under, copy_path


def make(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def tree(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(root))] = path.read_text()
    return found


def test_upper_layers_win_and_whiteouts_hide(tmp_path: Path) -> None:
    lower = make(tmp_path / "lower", {"etc/a": "old", "etc/b": "b", "etc/d/x": "x"})
    upper = make(tmp_path / "upper", {"etc/a": "new", "etc/c": "c"})
    os.mknod(upper / "etc" / "b", 0o20000 | 0o600, 0)  # overlayfs whiteout
    make(upper, {"etc/.wh.d": ""})  # the tar form
    dest = tmp_path / "dest"
    dest.mkdir()
    assert copy_path([upper, lower], "/etc", dest)
    assert tree(dest) == {"a": "new", "c": "c"}


def test_opaque_directories_hide_what_is_below(tmp_path: Path) -> None:
    lower = make(tmp_path / "lower", {"data/old": "1"})
    upper = make(tmp_path / "upper", {"data/new": "2", "data/.wh..wh..opq": ""})
    dest = tmp_path / "dest"
    dest.mkdir()
    copy_path([upper, lower], "/data", dest)
    assert tree(dest) == {"new": "2"}


def test_symlinks_resolve_inside_the_tree_and_links_stay(tmp_path: Path) -> None:
    layer = make(tmp_path / "layer", {"real/f": "f"})
    os.symlink("/real", layer / "alias")
    os.link(layer / "real" / "f", layer / "real" / "g")
    os.symlink("f", layer / "real" / "h")
    (layer / "real").chmod(0o1777)
    dest = tmp_path / "dest"
    dest.mkdir()
    assert copy_path([layer], "/alias/", dest)
    assert os.readlink(dest / "h") == "f"
    assert (dest / "f").stat().st_ino == (dest / "g").stat().st_ino
    assert dest.stat().st_mode & 0o7777 == 0o1777
    assert bytes_under(dest) == 2  # f and g once, and the link h


def test_missing_or_file_paths_copy_nothing(tmp_path: Path) -> None:
    layer = make(tmp_path / "layer", {"file": "x"})
    dest = tmp_path / "dest"
    dest.mkdir()
    assert not copy_path([layer], "/nowhere", dest)
    assert not copy_path([layer], "/file", dest)
    assert not any(dest.iterdir())
