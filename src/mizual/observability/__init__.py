"""Prometheus metrics: what is counted (`metrics`), how each process records it
(`multiprocess`), how a scrape collects it (`exposition`, and `GET /metrics` in `router`), and a
worker's own endpoint (`worker_server`).

Recording is an in-memory update, or in multiprocess mode (`METRICS_MULTIPROC_DIR`) a write to
this process's memory-mapped file in that folder: no system call, no network. Whatever is cheap
to read when scraped (queue length, cache statistics) is read then, not recorded.

- One process (`mizual serve` without a folder): the scrape reads this process's values.
- Several processes on one machine (`mizual api` processes, `mizual worker` pool processes):
  each writes its own files (`counter_<pid>.db`, `histogram_<pid>.db`) in the shared folder, and
  a scrape of any API process's `/metrics` (or of a worker's `METRICS_PORT`) adds them all up.
  The files of processes that have exited stay, so totals never go backwards; empty the folder
  only while no process uses it (at a deploy).
"""
