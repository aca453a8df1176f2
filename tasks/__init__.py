"""The built-in tasks, one folder each; tasks added at run time are found through ADRS_BENCH_TASK_PATH,
whose directories are searched after this folder for `adrs_bench.tasks.<name>` (adrs_bench/task_path.py).
Done here, on import, so that every process importing a task's modules sees the same tasks."""
from adrs_bench.task_path import extend_package_path

extend_package_path(__path__)
