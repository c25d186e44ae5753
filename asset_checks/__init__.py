"""Asset checks, apart from the assets they judge: data-quality suites (Great Expectations) on
every partition, the model gates on the backtest, the drift check on each day's report, and the
serving check on the deployment. Each module exposes builders that `mlops_assets/defs/` wires
into the code location for a dataset."""
