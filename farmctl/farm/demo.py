"""The demo farm's first start: a sample part in the uploads and a draft job of three copies, so a
newcomer presses Start (the farm view offers it) and watches the three simulated printers print.

Seeded once, on a data folder with no uploads, no jobs and no history: a farm someone already
used is never touched.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from farmctl.errors import FarmctlError
from farmctl.store import JobRecord

if TYPE_CHECKING:
    from farmctl.farm.farm import Farm

log = logging.getLogger(__name__)

SAMPLE_PART = "demo/calibration-ring.gcode"
DEMO_JOB = "Demo: three calibration rings"
COPIES = 3


def sample_part(layers: int = 40, layer_height: float = 0.3, radius: float = 10.0, segments: int = 48) -> str:
    """A ring 20 mm across and 12 mm tall, as a slicer would write it: heat, home, print, cool.
    About two minutes on a simulated printer at real speed."""
    lines = ["; farmctl demo part: a calibration ring", ";estimated printing time (normal mode) = 2m 10s",
             "M140 S60", "M104 S210", "M190 S60", "M109 S210", "G28", "G90", "M82", "G92 E0", "G1 Z0.3 F600"]
    extruded = 0.0
    step = 2 * math.pi * radius / segments * 0.033  # mm of filament per segment
    for layer in range(layers):
        lines.append(f";LAYER:{layer}")
        lines.append(f"G1 Z{(layer + 1) * layer_height:.2f} F600")
        lines.append(f"G0 X{110 + radius:.3f} Y110 F6000")
        for n in range(1, segments + 1):
            angle = 2 * math.pi * n / segments
            extruded += step
            lines.append(f"G1 X{110 + radius * math.cos(angle):.3f} Y{110 + radius * math.sin(angle):.3f} "
                         f"E{extruded:.4f} F1800")
    lines += ["G1 Z30 F600", "M104 S0", "M140 S0", "M107", "M84"]
    return "\n".join(lines) + "\n"


async def seed(farm: Farm) -> bool:
    """Put the sample part and the draft job in place on a fresh demo farm; True if it did."""
    snapshot = await farm.model.state.snapshot()
    if await farm.uploads.list(recursive=True) or await farm.model.settings.get_history(1) \
            or any(contents.jobs for contents in snapshot.queues):
        return False
    path = farm.uploads_dir / SAMPLE_PART
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sample_part())
    await farm.model.jobs.add_set({"path": SAMPLE_PART, "count": COPIES}, job_name=DEMO_JOB, job_draft=True)
    farm.changed("files")
    log.info("demo farm: %s and the draft job %r are ready", SAMPLE_PART, DEMO_JOB)
    return True


async def _demo_job(farm: Farm) -> JobRecord | None:
    found = await farm.model.jobs.jobs_named(DEMO_JOB)
    return found[0] if found else None


async def offer(farm: Farm) -> dict[str, Any] | None:
    """What the farm view offers a newcomer: the demo job while it is still a draft, else None."""
    job = await _demo_job(farm)
    if job is None or not job.draft:
        return None
    return {"job": job.id, "name": DEMO_JOB, "copies": COPIES, "printers": list(farm.printers)}


async def start(farm: Farm) -> None:
    """Queue the demo job for real and let every printer take work from the queue."""
    job = await _demo_job(farm)
    if job is None:
        raise FarmctlError("there is no demo job to start", 404)
    await farm.model.jobs.edit_job({"id": job.id, "draft": False})
    for entry in farm.printers.values():
        if entry.maintenance is None:
            await entry.driver.set_active(True)
    farm.wake_drivers()
