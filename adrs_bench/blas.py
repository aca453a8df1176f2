"""BLAS runs single-threaded wherever the harness runs numpy: in the harness (it needs no threads) and,
above all, in the sandboxed children (a child's threads would be a resource outside its limits). The
variables must be set before numpy loads; one place names them."""
from __future__ import annotations

from typing import MutableMapping

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_threaded(environ: MutableMapping[str, str], force: bool = False) -> None:
    """Set every BLAS thread variable of `environ` to 1 (`force`), or only those not set already."""
    for variable in BLAS_THREAD_VARIABLES:
        if force:
            environ[variable] = "1"
        else:
            environ.setdefault(variable, "1")
