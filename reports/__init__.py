"""Reports of runs and sweeps: latency histograms, capacity and run-out times, replication lag,
per-failover RPO and RTO, as plots, a self-contained HTML page, JSON and a terminal summary."""

from .compare import compare
from .figures import ReportError, run_figures
from .report import write_report
from .sweep import write_sweep_report

__all__ = ["ReportError", "compare", "run_figures", "write_report", "write_sweep_report"]
