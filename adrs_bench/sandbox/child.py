"""The sandboxed child: confine itself, load the submission, answer the parent's calls.

Every case starts from fresh submission state: a call that carries a seed begins a new case, so the
generators are seeded from it and the module is executed again into a new namespace (its globals and
its classes are new objects; nothing set while scoring one case survives into the next). The first
load only checks that the module loads at all, and reports how it failed if it does not.
"""
from __future__ import annotations

import marshal
import os
import random
import signal
import sys
import time
import types
from types import CodeType
from typing import Any, Callable

from ..spec import Limits
from . import wire
from .guards import SUBMISSION_MODULE, restricted_globals
from .isolation import Isolation, confine_child
from .replies import ERROR, MEMORY, OK, describe_exception, one_line

Adapter = Callable[[dict, Any], Any]


def seed_generators(seed: int) -> None:
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)


def fresh_namespace(code: CodeType, allowed_imports: tuple[str, ...], compat: dict | None = None) -> dict:
    """Execute the submission into a new module (registered in sys.modules: dataclasses look it up)."""
    module = types.ModuleType(SUBMISSION_MODULE)
    module.__dict__.update(restricted_globals(allowed_imports, compat))
    sys.modules[SUBMISSION_MODULE] = module
    exec(code, module.__dict__)
    return module.__dict__


def provided_modules(declared: dict[str, list[str]], adapter: Adapter) -> dict[str, dict[str, Any]]:
    """The modules the task provides (spec `compat_modules`: module -> names), each name's value taken
    from the task's child-adapter module, where the task defines it."""
    home = sys.modules[adapter.__module__]
    return {module: {name: getattr(home, name) for name in names} for module, names in declared.items()}


def load(code: CodeType, filename: str, allowed_imports: tuple[str, ...],
         compat: dict | None = None) -> tuple[dict | None, dict]:
    try:
        return fresh_namespace(code, allowed_imports, compat), {"status": OK}
    except MemoryError:
        return None, {"status": MEMORY, "message": "ran out of memory while loading the module"}
    except BaseException as exc:  # the submission's exception, whatever it is
        return None, {"status": ERROR, "message": "loading the module raised " + describe_exception(exc, filename)}


def end_leftover_processes() -> None:
    """As the namespace's init, kill whatever the last call left running (nothing, unless the system-call
    filter is off: it forbids making processes). One cheap wait4 when there is nothing."""
    if os.getpid() != 1:
        return
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return
    try:
        os.kill(-1, signal.SIGKILL)  # from a namespace's init: every other process in the namespace
    except OSError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def serve(req_fd: int, rep_fd: int, setup: dict, adapter: Adapter, isolation: Isolation,
          address_space: int) -> None:
    limits = Limits(**setup["limits"])
    code = marshal.loads(setup["code"])
    filename, allowed = setup["filename"], tuple(setup["allowed_imports"])
    compat = provided_modules(setup.get("compat_modules") or {}, adapter)
    os.setsid()  # a session and process group of its own: kill(0), PRIO_PGRP reach nothing outside
    confine_child(limits, address_space, isolation)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the 0-byte limit fails, not kills
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    seed_generators(0)  # the first load only checks that the module loads; seeded like any case
    namespace, loaded = load(code, filename, allowed, compat)
    wire.send_reply(rep_fd, dict(loaded, type="loaded"))
    if namespace is None:
        return
    requests = wire.RequestReader(req_fd)
    # With the filter on no process can be made, so there is nothing to end after a call.
    leftovers = end_leftover_processes if not isolation.syscall_filter else (lambda: None)
    while True:
        if not requests.ready():
            wire.wait_briefly(req_fd)
        request = requests.next()
        if request is None:
            return
        started = time.perf_counter()
        seed = request.get("seed")
        if seed is not None:  # a new case
            seed_generators(seed)
            namespace, loaded = load(code, filename, allowed, compat)
        if namespace is None:
            reply = dict(loaded)
        else:
            try:
                reply = {"status": OK, "value": adapter(namespace, request["payload"])}
            except MemoryError:
                reply = {"status": MEMORY, "message": "ran out of memory (MemoryError) under the "
                                                      f"{limits.memory_mb} MB address-space limit"}
            except BaseException as exc:
                reply = {"status": ERROR, "message": describe_exception(exc, filename)}
        reply["seconds"] = time.perf_counter() - started
        try:
            wire.send_reply(rep_fd, reply)
        except (TypeError, ValueError) as exc:
            wire.send_reply(rep_fd, {"status": ERROR, "seconds": reply["seconds"],
                                     "message": one_line(f"the output could not be serialised: {exc}")})
        leftovers()
