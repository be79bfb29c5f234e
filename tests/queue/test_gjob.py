""".gjob export/import: round trip, and nothing written outside the import folder."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from queue_helpers import dump, make_job

from farmctl.errors import FarmctlError
from farmctl.queue import QueueModel


async def _exported(model: QueueModel, tmp_path: Path) -> tuple[int, Path]:
    files = tmp_path / "files"
    (files / "parts").mkdir(parents=True)
    (files / "parts" / "cube.gcode").write_text("G28\nG1 X10\n")
    (files / "lid.gcode").write_text("G28\n")
    job_id = await make_job(model, [("parts/cube.gcode", 2), ("lid.gcode", 1)], count=3)
    await model.jobs.edit_job({"id": job_id, "name": "Box", "sets": [
        {"id": s.id, "materials": ["PLA"] if s.path == "lid.gcode" else []} for s in (await model.jobs.get_job(job_id)).sets
    ]})
    claim = await model.counting.claim("p1")
    assert claim is not None
    await model.counting.finish_run(claim.run.id, "success")
    result = await model.gjobs.export_jobs([job_id], tmp_path / "exports", files)
    assert result.errors == () and len(result.paths) == 1
    return job_id, Path(result.paths[0])


async def test_round_trip(model: QueueModel, tmp_path: Path) -> None:
    job_id, gjob = await _exported(model, tmp_path)
    with zipfile.ZipFile(gjob) as zf:
        assert sorted(zf.namelist()) == ["cube.gcode", "lid.gcode", "manifest.json"]
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["version"] == 1 and manifest["name"] == "Box"
    assert not {"id", "queue", "acquired"} & set(manifest)
    assert [s["path"] for s in manifest["sets"]] == ["cube.gcode", "lid.gcode"]

    uploads = tmp_path / "uploads"
    job = await model.gjobs.import_job(gjob, uploads)
    assert job.id != job_id and job.draft and job.name == "Box" and job.queue == "local"
    assert (job.count, job.remaining) == (3, 3)
    assert [(s.path, s.count, s.remaining, s.completed, s.materials) for s in job.sets] == [
        ("Box/cube.gcode", 2, 2, 0, ()), ("Box/lid.gcode", 1, 1, 0, ("PLA",)),
    ]
    assert (uploads / "Box" / "cube.gcode").read_text() == "G28\nG1 X10\n"
    again = await model.gjobs.import_job(gjob, uploads)
    assert again.sets[0].path == "Box_1/cube.gcode"


async def test_export_reports_missing_files(model: QueueModel, tmp_path: Path) -> None:
    job_id = await make_job(model, [("nowhere.gcode", 1)])
    result = await model.gjobs.export_jobs([job_id], tmp_path / "out", tmp_path)
    assert result.paths == () and "missing" in result.errors[0]
    with pytest.raises(FarmctlError) as err:
        await model.gjobs.export_jobs([999], tmp_path / "out", tmp_path)
    assert err.value.status == 404


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return path


MANIFEST = json.dumps({"name": "evil", "count": 1, "sets": [{"path": "a.gcode", "count": 1}], "version": 1})

BAD = {
    "slip": {"manifest.json": MANIFEST, "a.gcode": "G28", "../../escape.gcode": "G28"},
    "absolute": {"manifest.json": MANIFEST, "a.gcode": "G28", "/tmp/abs.gcode": "G28"},
    "set_path_slip": {
        "manifest.json": json.dumps({"name": "x", "sets": [{"path": "../a.gcode"}]}), "a.gcode": "G28",
    },
    "no_manifest": {"a.gcode": "G28"},
    "bad_json": {"manifest.json": "{nope", "a.gcode": "G28"},
    "missing_file": {"manifest.json": MANIFEST},
    "bad_count": {"manifest.json": json.dumps({"name": "x", "sets": [{"path": "a.gcode", "count": -1}]}), "a.gcode": ""},
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_bad_gjob_is_rejected_without_writing(model: QueueModel, tmp_path: Path, db_path: Path, case: str) -> None:
    gjob = _zip(tmp_path / "evil.gjob", BAD[case])
    uploads = tmp_path / "deep" / "uploads"
    uploads.mkdir(parents=True)
    before = dump(db_path)
    with pytest.raises(FarmctlError) as err:
        await model.gjobs.import_job(gjob, uploads)
    assert err.value.status == 400
    assert dump(db_path) == before
    assert list(uploads.iterdir()) == []
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["evil.gjob", "queue.db", "queue.db-shm", "queue.db-wal"]


async def test_not_a_zip_is_rejected(model: QueueModel, tmp_path: Path) -> None:
    fake = tmp_path / "fake.gjob"
    fake.write_text("this is not a zip")
    with pytest.raises(FarmctlError):
        await model.gjobs.import_job(fake, tmp_path / "uploads")
    with pytest.raises(FarmctlError) as err:
        await model.gjobs.import_job(tmp_path / "absent.gjob", tmp_path / "uploads")
    assert err.value.status == 404
