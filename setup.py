"""The package list, found rather than written (everything else is in pyproject.toml).

Tasks live at the top of the repository (tasks/<name>/) and ship inside the package as
adrs_bench.tasks.<name> (pyproject's package-dir maps the folder), so a non-editable install finds
them from any working directory. setuptools' own discovery cannot follow that mapping, so the
packages are found here: adding a task adds a folder under tasks/, and no line anywhere else."""
from setuptools import find_packages, setup

TASKS = "adrs_bench.tasks"

harness = [name for name in find_packages(include=["adrs_bench", "adrs_bench.*"])
           if name != TASKS and not name.startswith(f"{TASKS}.")]  # a checkout may link adrs_bench/tasks
tasks = [TASKS] + [f"{TASKS}.{name}" for name in find_packages(where="tasks")]
setup(packages=sorted(harness + tasks))
