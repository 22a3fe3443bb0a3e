"""jobwatch.state: everything the exporter holds between an API event and a scrape.

exporter   ExporterState: the Sink the informers feed, and what the server reads
store      the slim store: Job and Pod records, pods by Job, which Jobs changed
cache      the render cache: pre-rendered samples per Job and CronJob, the last body
cronjobs   CronJob tracking: which exist, and run history that outlives the Jobs
counters   counters with bounded labels; failures counted exactly once
telemetry  the exporter's own health (jobwatch_exporter_*), readiness and liveness
"""

from jobwatch.state.exporter import REFRESH_STEP, ExporterState

__all__ = ["REFRESH_STEP", "ExporterState"]
