"""Export and import of .gjob files: a ZIP of manifest.json plus the job's G-code files.

The manifest is the job without id, queue or acquired, with set paths reduced to basenames,
plus ``version``. Import never writes outside the one new folder it creates: it checks every
member name, and extracts only the files the manifest names, by basename.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from farmctl.errors import FarmctlError
from farmctl.queue.db import QueueDb, end_rank, job_of, queue_named
from farmctl.queue.validate import as_id_list, as_int, as_set_fields, as_str
from farmctl.store import LOCAL_QUEUE, JobRecord, SetFields

GJOB_VERSION = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class ExportResult:
    paths: tuple[str, ...]
    errors: tuple[str, ...]


def safe_name(text: str, fallback: str) -> str:
    """A file or folder name made of harmless characters (never empty, never dots only)."""
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", text).strip(" .")
    return name or fallback


def _unique(parent: Path, stem: str, suffix: str = "") -> Path:
    candidate, n = parent / f"{stem}{suffix}", 1
    while candidate.exists():
        candidate, n = parent / f"{stem}_{n}{suffix}", n + 1
    return candidate


def manifest_of(job: JobRecord) -> dict[str, Any]:
    return {
        "name": job.name,
        "count": job.count,
        "remaining": job.remaining,
        "draft": job.draft,
        "created": job.created,
        "sets": [
            {
                "path": PurePosixPath(s.path).name,
                "sd": s.sd,
                "count": s.count,
                "remaining": s.remaining,
                "completed": s.completed,
                "metadata": s.metadata,
                "materials": list(s.materials),
                "profiles": list(s.profiles),
            }
            for s in job.sets
        ],
        "version": GJOB_VERSION,
    }


def _write_gjob(job: JobRecord, files_root: Path, dest_dir: Path) -> Path:
    root = files_root.resolve()
    sources: dict[str, Path] = {}
    for s in job.sets:
        source = (root / s.path).resolve()
        if not source.is_relative_to(root):
            raise FarmctlError(f"job {job.id}: set path {s.path!r} is outside the files folder")
        if not source.is_file():
            raise FarmctlError(f"job {job.id}: file {s.path!r} is missing")
        if sources.setdefault(source.name, source) != source:
            raise FarmctlError(f"job {job.id}: two different files are named {source.name!r}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = _unique(dest_dir, safe_name(job.name, f"job_{job.id}"), ".gjob")
    try:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest_of(job), indent=2))
            for name, source in sources.items():
                zf.write(source, name)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise FarmctlError(f"job {job.id}: cannot write {target}: {exc}", status=500) from exc
    return target


def _member_is_safe(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not path.is_absolute() and ".." not in path.parts and ":" not in name


def _read_gjob(path: Path) -> tuple[dict[str, Any], list[SetFields]]:
    """Open and check a .gjob without extracting anything."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if not all(_member_is_safe(n) for n in names):
                raise FarmctlError(f"{path.name}: unsafe file name inside the .gjob")
            if MANIFEST not in names:
                raise FarmctlError(f"{path.name}: no {MANIFEST} inside the .gjob")
            manifest = json.loads(zf.read(MANIFEST))
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise FarmctlError(f"{path.name} is not a valid .gjob (zip) file: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FarmctlError(f"{path.name}: {MANIFEST} is not valid JSON") from exc
    if not isinstance(manifest, Mapping) or not isinstance(manifest.get("sets"), list):
        raise FarmctlError(f"{path.name}: {MANIFEST} must be an object with a sets list")
    sets = []
    for item in manifest["sets"]:
        if not isinstance(item, Mapping):
            raise FarmctlError(f"{path.name}: each set must be an object")
        fields = as_set_fields(item)
        if fields.path != PurePosixPath(fields.path).name or fields.path in (".", ".."):
            raise FarmctlError(f"{path.name}: set path {fields.path!r} must be a plain file name")
        if fields.path not in names:
            raise FarmctlError(f"{path.name}: {fields.path!r} is listed but not included")
        sets.append(fields)
    return dict(manifest), sets


def _extract(path: Path, files: list[str], folder: Path) -> None:
    folder.mkdir(parents=True)
    with zipfile.ZipFile(path) as zf:
        for name in dict.fromkeys(files):
            with zf.open(name) as src, open(folder / name, "xb") as dst:
                shutil.copyfileobj(src, dst)


class Gjobs:
    """job/export and job/import."""

    def __init__(self, db: QueueDb) -> None:
        self._db = db

    async def export_jobs(self, job_ids: Any, dest_dir: Path, files_root: Path) -> ExportResult:
        """job/export: one .gjob per job in ``dest_dir``; set paths are relative to ``files_root``."""
        ids = as_id_list(job_ids)
        async with self._db.read() as tx:
            jobs = [await job_of(tx, jid) for jid in ids]
        paths, errors = [], []
        for job in jobs:
            try:
                paths.append(str(await asyncio.to_thread(_write_gjob, job, files_root, dest_dir)))
            except FarmctlError as exc:
                errors.append(exc.message)
        return ExportResult(tuple(paths), tuple(errors))

    async def import_job(self, gjob: str | Path, uploads_dir: Path, queue: str = LOCAL_QUEUE) -> JobRecord:
        """job/import: unpack into a new folder under ``uploads_dir`` and add the job as a draft.

        Set paths of the new job are relative to ``uploads_dir`` ("<folder>/<file>"); every
        copy is owed again (remaining = count).
        """
        path = Path(gjob)
        if not path.is_file():
            raise FarmctlError(f"no .gjob file at {path}", status=404)
        manifest, sets = await asyncio.to_thread(_read_gjob, path)
        name = as_str(manifest.get("name", path.stem), "name", allow_empty=True)
        count = as_int(manifest.get("count", 1), "count", minimum=1)
        async with self._db.read() as tx:
            await queue_named(tx, queue)
        folder = _unique(uploads_dir, safe_name(path.stem, "import"))
        await asyncio.to_thread(_extract, path, [s.path for s in sets], folder)
        try:
            async with self._db.write() as tx:
                q = await queue_named(tx, queue)
                job_id = await tx.jobs.insert(
                    q.id, name, await end_rank(tx, q.id), count=count, remaining=count,
                    created=int(self._db.clock()), draft=True,
                )
                for rank, s in enumerate(sets, start=1):
                    fields = replace(s, path=f"{folder.name}/{s.path}", remaining=s.count, completed=0)
                    await tx.sets.insert(job_id, float(rank), fields)
                return await job_of(tx, job_id)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, folder, True)
            raise
