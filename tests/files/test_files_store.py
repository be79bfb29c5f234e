import asyncio
import os
from pathlib import Path

import pytest

import farmctl.files.store as store_module
from farmctl.errors import FarmctlError
from farmctl.files.analysis import TimeSource
from farmctl.files.meta import META_DIR
from farmctl.files.store import FileType, UploadFolder

SQUARE = b"G90\nM82\nG92 X0 Y0 Z0.2 E0\nG1 X10 Y0 E1 F600\nG1 X10 Y10 E2\nG1 X0 Y10 E3\nG1 X0 Y0 E4\n"


async def stream(*parts: bytes):
    for part in parts:
        await asyncio.sleep(0)
        yield part


def all_files(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*")}


@pytest.fixture
def folder(tmp_path: Path) -> UploadFolder:
    return UploadFolder(tmp_path / "uploads", max_bytes=1000)


async def test_upload_is_hashed_analysed_and_listed(folder: UploadFolder, tmp_path: Path):
    info = await folder.save_stream("parts/square.gcode", stream(SQUARE[:10], SQUARE[10:]))
    assert (info.name, info.path, info.size, info.type) == ("square.gcode", "parts/square.gcode", len(SQUARE),
                                                            FileType.MACHINECODE)
    assert info.hash == __import__("hashlib").sha1(SQUARE).hexdigest()
    assert info.sha256 == __import__("hashlib").sha256(SQUARE).hexdigest()
    assert info.analysis.estimated_print_time == 4.0
    assert (tmp_path / "uploads/parts/square.gcode").read_bytes() == SQUARE
    assert await folder.info("parts/square.gcode") == info
    top = await folder.list(recursive=False)
    assert [(i.path, i.type, i.size) for i in top] == [("parts", FileType.FOLDER, len(SQUARE))]
    assert [i.path for i in await folder.list(recursive=True)] == ["parts", "parts/square.gcode"]


@pytest.mark.parametrize("name", [
    "../x.gcode", "/etc/passwd", "a/../../b.gcode", "..\\x.gcode", "a\x00b.gcode", ".hidden.gcode", "x.stl",
])
async def test_traversal_names_write_nothing(folder: UploadFolder, tmp_path: Path, name: str):
    with pytest.raises(FarmctlError) as caught:
        await folder.save_stream(name, stream(SQUARE))
    assert caught.value.status == 400
    assert all_files(tmp_path) <= {"uploads"}


async def test_symlink_out_of_the_root_is_refused(folder: UploadFolder, tmp_path: Path):
    root, outside = tmp_path / "uploads", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.gcode").write_bytes(b"G28\n")
    (root / "escape").symlink_to(outside)
    (root / "link.gcode").symlink_to(outside / "secret.gcode")
    for name in ("escape/x.gcode", "link.gcode"):
        with pytest.raises(FarmctlError, match="outside"):
            await folder.save_stream(name, stream(SQUARE))
    with pytest.raises(FarmctlError, match="outside"):
        await folder.info("link.gcode")
    assert await folder.list(recursive=True) == []
    assert all_files(outside) == {"secret.gcode"}
    assert (outside / "secret.gcode").read_bytes() == b"G28\n"


async def test_too_large_upload_leaves_no_file_and_no_temp(folder: UploadFolder, tmp_path: Path):
    with pytest.raises(FarmctlError) as caught:
        await folder.save_stream("big.gcode", stream(b"G1 X1\n" * 100, b"G1 X1\n" * 100))
    assert caught.value.status == 413
    assert all_files(tmp_path / "uploads") == set()
    exact = await folder.save_stream("exact.gcode", stream(b"x" * 600, b"y" * 400))
    assert exact.size == 1000


async def test_replace_is_atomic_and_failure_keeps_the_old_file(folder: UploadFolder, tmp_path: Path):
    target = tmp_path / "uploads/a.gcode"
    await folder.save_stream("a.gcode", stream(b"G1 X1 ; old\n"))
    paused, resume = asyncio.Event(), asyncio.Event()

    async def slow():
        yield b"G1 X2 ; new"
        paused.set()
        await resume.wait()
        yield b" and complete\n"

    upload = asyncio.create_task(folder.save_stream("a.gcode", slow()))
    await paused.wait()
    await asyncio.sleep(0.05)  # the first part has reached the temp file by now
    assert target.read_bytes() == b"G1 X1 ; old\n"
    resume.set()
    await upload
    assert target.read_bytes() == b"G1 X2 ; new and complete\n"

    async def broken():
        yield b"G1 X3\n"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await folder.save_stream("a.gcode", broken())
    assert target.read_bytes() == b"G1 X2 ; new and complete\n"
    assert sorted(os.listdir(tmp_path / "uploads")) == [META_DIR, "a.gcode"]  # no temp file left


async def test_contents_that_differ_from_the_expected_hash_are_never_stored(folder: UploadFolder, tmp_path: Path):
    import hashlib

    from farmctl.files.store import ContentMismatch

    await folder.save_stream("part.gcode", stream(b"G28\n"))
    with pytest.raises(ContentMismatch, match="part.gcode does not match its recorded SHA-256"):
        await folder.save_stream("part.gcode", stream(SQUARE), expect_sha256=hashlib.sha256(b"other").hexdigest())
    with pytest.raises(ContentMismatch):
        await folder.save_stream("new/part.gcode", stream(SQUARE), expect_sha256="0" * 64)
    assert (tmp_path / "uploads/part.gcode").read_bytes() == b"G28\n", "the older file stays"
    assert all_files(tmp_path / "uploads") - {p for p in all_files(tmp_path / "uploads") if p.startswith(".farmctl-meta")} \
        == {"part.gcode"}, "no temp file and no folder made for it"
    good = await folder.save_stream("part.gcode", stream(SQUARE), expect_sha256=hashlib.sha256(SQUARE).hexdigest())
    assert good.sha256 == hashlib.sha256(SQUARE).hexdigest()
    assert (tmp_path / "uploads/part.gcode").read_bytes() == SQUARE


async def test_cancelled_upload_removes_its_temp(folder: UploadFolder, tmp_path: Path):
    started = asyncio.Event()

    async def endless():
        yield b"G1 X1\n"
        started.set()
        await asyncio.Event().wait()
        yield b""

    upload = asyncio.create_task(folder.save_stream("c.gcode", endless()))
    await started.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert all_files(tmp_path / "uploads") == set()


async def test_upload_cancelled_while_it_starts_leaves_nothing(folder: UploadFolder, tmp_path: Path):
    """Cancelled while the worker is still making its folders and temp file: they are removed when it is done."""
    (tmp_path / "uploads").mkdir()
    upload = asyncio.create_task(folder.save_stream("new/deeper/c.gcode", stream(SQUARE)))
    await asyncio.sleep(0)  # the task now waits for the worker
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    await asyncio.sleep(0.5)  # the worker made them and its clean-up removed them
    assert all_files(tmp_path / "uploads") == set()


async def test_hand_copied_file_is_analysed_once_and_remembered(tmp_path: Path, monkeypatch):
    root = tmp_path / "uploads"
    (root / "box").mkdir(parents=True)
    (root / "box/cube.gcode").write_bytes(b";TIME:61\n" + SQUARE)
    (root / "notes.txt").write_text("not G-code")
    (root / ".part.gcode").write_bytes(SQUARE)
    listed = await UploadFolder(root, 10_000).list(recursive=True)
    assert [i.path for i in listed] == ["box", "box/cube.gcode"]
    cube = listed[1]
    assert cube.analysis.estimated_print_time == 61.0
    assert cube.analysis.time_source is TimeSource.SLICER
    assert list((root / META_DIR).glob("*.json"))

    class NoAnalysis:
        def __init__(self):
            raise AssertionError("analysed again after a restart")

    monkeypatch.setattr(store_module, "GcodeAnalyzer", NoAnalysis)
    again = await UploadFolder(root, 10_000).info("box/cube.gcode")  # a fresh process
    assert again == cube


async def test_changed_file_is_analysed_again(folder: UploadFolder, tmp_path: Path):
    await folder.save_stream("a.gcode", stream(SQUARE))
    path = tmp_path / "uploads/a.gcode"
    path.write_bytes(b";TIME:7\n" + SQUARE)
    os.utime(path, ns=(1, 1_000_000_000))
    info = await folder.info("a.gcode")
    assert info.analysis.estimated_print_time == 7.0
    assert info.date == 1


async def test_delete_move_copy_and_folders(folder: UploadFolder, tmp_path: Path):
    root = tmp_path / "uploads"
    await folder.save_stream("a/one.gcode", stream(SQUARE))
    with pytest.raises(FarmctlError) as caught:
        await folder.delete("a/missing.gcode")
    assert caught.value.status == 404

    moved = await folder.move("a/one.gcode", "b/two.gcode")
    assert moved.path == "b/two.gcode" and moved.analysis.estimated_print_time == 4.0
    assert not (root / "a/one.gcode").exists()
    copied = await folder.copy("b/two.gcode", "b/three.gcode")
    assert copied.hash == moved.hash
    with pytest.raises(FarmctlError) as caught:
        await folder.copy("b/two.gcode", "b/three.gcode")
    assert caught.value.status == 409

    folder_info = await folder.move("b", "c")
    assert folder_info.type is FileType.FOLDER and folder_info.size == 2 * len(SQUARE)
    with pytest.raises(FarmctlError):
        await folder.move("c", "c/inner")
    await folder.copy("c", "d")
    assert [i.path for i in await folder.list(recursive=True)] == [
        "a", "c", "c/three.gcode", "c/two.gcode", "d", "d/three.gcode", "d/two.gcode"]

    created = await folder.create_folder("e/f")
    assert created.type is FileType.FOLDER
    with pytest.raises(FarmctlError) as caught:
        await folder.create_folder("e/f")
    assert caught.value.status == 409

    await folder.delete("c")
    await folder.delete("d/two.gcode")
    assert [i.path for i in await folder.list(recursive=False)] == ["a", "d", "e"]
    assert [i.path for i in await folder.list(recursive=False, under="d")] == ["d/three.gcode"]
    assert await folder.local_path("d/three.gcode") == root.resolve() / "d/three.gcode"


async def test_usage_is_nonzero(folder: UploadFolder):
    free, total = await folder.usage()
    assert 0 < free <= total


async def test_a_failed_upload_never_pulls_a_new_folder_from_under_another(folder: UploadFolder, tmp_path: Path):
    """Two uploads into a folder that does not exist yet: one too large (its folder is removed again),
    one good. Whatever the interleaving, the good one is stored and the failed one leaves nothing."""
    for round_ in range(60):
        name = f"race{round_}"
        results = await asyncio.gather(
            folder.save_stream(f"{name}/big.gcode", stream(*[SQUARE] * 20)),
            folder.save_stream(f"{name}/good.gcode", stream(SQUARE)),
            return_exceptions=True)
        failed, stored = results
        assert isinstance(failed, FarmctlError) and failed.status == 413, failed
        assert not isinstance(stored, BaseException), f"round {round_}: {stored!r}"
        assert (tmp_path / "uploads" / name / "good.gcode").read_bytes() == SQUARE
        assert all_files(tmp_path / "uploads" / name) == {"good.gcode"}


async def test_recent_info_sees_changes_through_the_folder_at_once_and_by_hand_within_its_time(
        folder: UploadFolder, tmp_path: Path):
    """What /api/job and the push tick show: an upload, a move or a delete through the folder at once;
    a file replaced by hand (nobody tells the folder) once ``RECENT_SECONDS`` have passed."""
    assert await folder.recent_info("a.gcode", 0.0) is None
    await folder.save_stream("a.gcode", stream(SQUARE))
    assert (await folder.recent_info("a.gcode", 1.0)).size == len(SQUARE)
    await folder.save_stream("a.gcode", stream(SQUARE * 2))
    assert (await folder.recent_info("a.gcode", 2.0)).size == 2 * len(SQUARE)
    (tmp_path / "uploads/a.gcode").write_bytes(SQUARE * 3)
    assert (await folder.recent_info("a.gcode", 3.0)).size == 2 * len(SQUARE)  # remembered
    later = 3.0 + store_module.RECENT_SECONDS
    assert (await folder.recent_info("a.gcode", later)).size == 3 * len(SQUARE)
    await folder.move("a.gcode", "b.gcode")
    assert await folder.recent_info("a.gcode", later) is None
    assert (await folder.recent_info("b.gcode", later)).size == 3 * len(SQUARE)
    await folder.delete("b.gcode")
    assert await folder.recent_info("b.gcode", later) is None
