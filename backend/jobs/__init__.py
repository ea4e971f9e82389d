"""Jobs (what MLExCompute did) and the models they train: state machine, queuing, progress,
metrics, logs, cancel/retry, crash detection and artifact placement. No HTTP, no ML imports."""
