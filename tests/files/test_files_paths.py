from pathlib import Path, PurePosixPath

import pytest

from farmctl.errors import FarmctlError
from farmctl.files.paths import resolve_in, safe_relative_path


@pytest.mark.parametrize("name, expected", [
    ("part.gcode", "part.gcode"),
    ("folder/sub/part.GCODE", "folder/sub/part.GCODE"),
    ("a//b/./c.gco", "a/b/c.gco"),
    ("cube.g", "cube.g"),
    ("queue.gjob", "queue.gjob"),
    ("with space (2).gcode", "with space (2).gcode"),
    ("caf\u0065\u0301.gcode", "caf\u00e9.gcode"),  # NFD in, NFC out
])
def test_good_names_are_normalised(name, expected):
    assert safe_relative_path(name) == PurePosixPath(expected)


@pytest.mark.parametrize("name, why", [
    ("../x.gcode", "'..'"),
    ("a/../../b.gcode", "'..'"),
    ("a/..", "'..'"),
    ("/etc/passwd", "absolute"),
    ("..\\x.gcode", "backslash"),
    ("a\x00b.gcode", "control"),
    ("a\nb.gcode", "control"),
    ("a\x7fb.gcode", "control"),
    ("C:/x.gcode", "drive"),
    ("c:x.gcode", "drive"),
    ("", "empty"),
    ("/", "absolute"),
    ("./", "empty"),
    (".hidden.gcode", "hidden"),
    ("folder/.git/x.gcode", "hidden"),
    (" x.gcode", "blanks"),
    ("x.gcode ", "blanks"),
    ("x" * 250 + ".gcode", "255"),
    ("/".join(["d" * 200] * 6) + "/x.gcode", "1024"),
    ("part.stl", "not a G-code"),
    ("part.gcode.txt", "not a G-code"),
    ("folder", "not a G-code"),
])
def test_bad_names_are_rejected_with_400(name, why):
    with pytest.raises(FarmctlError, match=why) as caught:
        safe_relative_path(name)
    assert caught.value.status == 400


def test_folders_need_no_extension():
    assert safe_relative_path("a/b", require_extension=False) == PurePosixPath("a/b")


def test_resolve_stays_in_root(tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    assert resolve_in(root, "a/b.gcode") == root.resolve() / "a" / "b.gcode"


def test_symlink_leading_outside_is_rejected(tmp_path: Path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "passwd.gcode").symlink_to(tmp_path / "secret")
    (root / "inside").mkdir()
    (root / "alias").symlink_to(root / "inside")
    with pytest.raises(FarmctlError, match="outside") as caught:
        resolve_in(root, "escape/x.gcode")
    assert caught.value.status == 400
    with pytest.raises(FarmctlError, match="outside"):
        resolve_in(root, "passwd.gcode")  # dangling, but would lead outside
    assert resolve_in(root, "alias/x.gcode") == root.resolve() / "alias" / "x.gcode"
