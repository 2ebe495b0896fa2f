"""This machine as a compute size, and the share of it that running jobs hold.

``machine_size`` is the one :class:`VmSize` every local compute target has (cores, memory, GPUs,
disk). ``usage`` reads the workspace's running jobs: a job holds one vCPU per process it starts
(one per rank, as the job runtime lays them out: ``instance_count`` x processes per instance)
from the moment it is prepared until it ends, counted against the machine's cores; and one job slot of its compute target,
counted against the slots that target has (its ``max_instances``, or the cores for the default
pool). Pipeline and sweep parents hold nothing themselves: their steps and trials do.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from openaml.entities.compute_sizes import Usage, UsageName, UsageUnit, VmSize
from openaml.entities.job_status import JobStatus
from openaml.services.job_constants import LOCAL_POOL
from openaml.services.job_runtime import rank_layout
from openaml.services.workspaces import WorkspaceContext

LOCAL_SIZE = "local"
"""The name of this machine's size (``instance_type`` has no effect locally)."""

_HOLDING = frozenset({JobStatus.PREPARING.value, JobStatus.RUNNING.value, JobStatus.FINALIZING.value,
                      JobStatus.CANCEL_REQUESTED.value})
_TYPE = "Microsoft.MachineLearningServices/{}/usages"
_MB = 2 ** 20


def gpu_count() -> int:
    """NVIDIA GPUs the driver reports (``/proc/driver/nvidia/gpus``, else ``/dev/nvidiaN``)."""
    driver = Path("/proc/driver/nvidia/gpus")
    try:
        if driver.is_dir():
            return sum(1 for _ in driver.iterdir())
        return sum(1 for p in Path("/dev").glob("nvidia*") if re.fullmatch(r"nvidia\d+", p.name))
    except OSError:
        return 0


def machine_size(home: Path) -> VmSize:
    """This machine: cores, memory and GPUs; disk of the file system that holds ``home``."""
    import psutil  # only for the memory total; loaded on this path alone

    folder = next((p for p in (home, *home.parents) if p.exists()), Path("/"))
    disk = shutil.disk_usage(folder)
    return VmSize(name=LOCAL_SIZE, family=LOCAL_SIZE, v_cp_us=os.cpu_count() or 1, gpus=gpu_count(),
                  memory_gb=round(psutil.virtual_memory().total / 2 ** 30, 1),
                  os_vhd_size_mb=disk.total // _MB, max_resource_volume_mb=disk.free // _MB,
                  low_priority_capable=False, premium_io=False,
                  supported_compute_types=["AmlCompute", "ComputeInstance", "Kubernetes", "VirtualMachine"])


def usage(ctx: WorkspaceContext) -> list[Usage]:
    """``totalCores`` (vCPUs held by running jobs, of this machine's cores), then one entry per
    compute target with running jobs (jobs running, of the jobs it runs at once)."""
    cores_used = 0
    pools: dict[str, list[int]] = {}  # compute -> [running jobs, slots]
    for record in ctx.jobs.list_active(ctx.name):
        resolved = (record.spec or {}).get("resolved") or {}
        if record.status not in _HOLDING or "compute" not in resolved or "slots" not in resolved:
            continue
        if record.status == JobStatus.CANCEL_REQUESTED.value and record.started_at is None:
            continue  # canceled before it started: it holds nothing
        cores_used += len(rank_layout((record.spec or {}).get("job") or {}))
        pool = pools.setdefault(str(resolved["compute"]), [0, int(resolved["slots"] or 1)])
        pool[0] += 1
    cores = os.cpu_count() or 1
    usages = [_usage(ctx.name, "totalCores", "totalCores", cores_used, cores,
                     "Total vCPUs of this machine held by running jobs")]
    for compute, (running, slots) in sorted(pools.items()):
        shown = "serverless" if compute == LOCAL_POOL else compute
        usages.append(_usage(ctx.name, "computes", shown, running, slots,
                             f"Jobs running on compute '{shown}'"))
    return usages


def _usage(workspace: str, kind: str, key: str, current: int, limit: int, text: str) -> Usage:
    return Usage(id=f"/locations/local/workspaces/{workspace}/usages/{key}", aml_workspace_location="local",
                 type=_TYPE.format(kind), unit=UsageUnit.COUNT, current_value=current, limit=limit,
                 name=UsageName(value=key, localized_value=text))
