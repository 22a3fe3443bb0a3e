"""Pure analysis of Jobs and their pods, `now` injected. See `jobwatch.analysis.job.analyse`."""

from jobwatch.analysis.job import analyse
from jobwatch.analysis.ownership import pods_by_job
from jobwatch.analysis.report import Attempts, ExitInfo, HiddenCount, JobReport, Stall

__all__ = ["Attempts", "ExitInfo", "HiddenCount", "JobReport", "Stall", "analyse", "pods_by_job"]
