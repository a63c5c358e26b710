"""mlopsc.runtime: the code that runs inside every pipeline step, on every target.

This package stays import-light: importing `mlopsc.runtime` pulls in nothing heavy. Each
module imports what it needs (pandas, numpy, scipy, torch, mlflow) itself:

- `datacheck`: validate a DataFrame against a dataset's declared schema and checks.
- `drift`: per-feature drift (PSI, KS, Wasserstein, chi-squared) with JSON and HTML reports.
- `serving`: an HTTP model server with `/predict`, `/health` and Prometheus `/metrics`.
- `router`: a champion/challenger traffic router; `rollout`: the rollout controller it drives
  (canary, blue/green, shadow, A/B) with automatic rollback.
- `traffic`: smoke test, paced load test, and driving a rollout with replayed requests.
- `tracking`: MLflow runs, models, lineage tags, registry versions, aliases and approval.
- `evaluate`: model metrics (with slices and p95 latency) and the evaluation gate.
- `metrics`: classification metrics in numpy (auc, f1, ...).
- `steps`: the step actions behind `mlopsc step <action>` (validate, features, train with
  sweeps, evaluate, register, fail, drift, fine_tune) and their on-disk output conventions.
- `deploy`: the approve, deploy / rollout, smoke and load test actions; each asks its platform.
- `platforms`: what differs per target at run time (tracking store, data, deploy and rollout,
  calling an endpoint, approval, alerts): `platforms.current(ctx)` is the step's `Platform`
  (`local`, `sagemaker`, `kubeflow`, `vertex`).
- `monitoring`: monitor_infra, performance, llm_quality, eval_suite, act, notify; the infrastructure
  check's sources (`platforms.infra_checks`, `infra_local`, `infra_cloudwatch`), retrain and rollback
  (`platforms.monitor_actions`), feedback (`feedback`: the server side; `feedback_monitor`: the step).
- `sweep`: in-process sweeps as an Optuna study (TPE for bayesian, random, grid).
- `stepio`, `stepmain`: the step contract's references (`PATH#KEY`, KFP ExecutorOutput,
  `${secret:..}`) and `mlopsc step` itself.
- `runner`, `cachekey`: `mlopsc run` (steps as processes, content-hash cache, staging, resume).
- `localserve`: model servers and routers as background processes, and where they run.
- `service`: `mlopsc serve` and `mlopsc monitor` (with a cron schedule).
- `lineage`: git commit, content hashes and lineage tags without importing MLflow.
- `httpbase`: the shared stdlib HTTP service and keep-alive client.
- `datafiles`: read and write data files (parquet, csv, jsonl, json) by format.
"""
