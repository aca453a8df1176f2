"""Fresh sets are cached by task version, seed and the code that builds them (adrs_bench/fresh_cache.py):
a replay is read, not rebuilt, bit for bit the same; a damaged entry is rebuilt, an unwritable cache
only costs the reuse (one warning line); building reports each case, with an estimate of the time left.

Every test here uses a cache in a temporary directory (`isolated_cache`), never the user's."""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from adrs_bench import fresh_cache
from adrs_bench.fresh_cache import ENV_VAR, CacheKey, cache_root, code_sha256, entry_path, fetch
from adrs_bench.instances import build_fresh_bytes, build_progress_line, case_built, load_set, sha256_bytes
from adrs_bench.registry import get_task
from adrs_bench.tasks.autoscaling import generate as autoscaling_generate
from adrs_bench.tasks.autoscaling import instance as autoscaling_instance
from adrs_bench.tasks.autoscaling import reference as autoscaling_reference
from adrs_bench.tasks.prism_placement import generate as prism_generate

SEED = 7  # llm_routing's fresh sets are the cheap real ones: 5 traces in about a second


@pytest.fixture(scope="module", autouse=True)
def isolated_cache(tmp_path_factory):
    """Point the cache at a temporary directory for this module (module scope: restored after it)."""
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(tmp_path_factory.mktemp("adrs-bench-cache"))
    yield Path(os.environ[ENV_VAR])
    if old is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = old


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache of the test's own."""
    root = tmp_path / "cache"
    monkeypatch.setenv(ENV_VAR, str(root))
    return root


@pytest.fixture(scope="module")
def routing():
    return get_task("llm_routing")


@pytest.fixture(scope="module")
def routing_bytes(routing) -> bytes:
    """fresh:SEED built without any cache: what every load must give."""
    return build_fresh_bytes(routing, SEED)


def entries(root: Path) -> list[Path]:
    return sorted(root.rglob("*.set"))


# ------------------------------------------------------------------------------ where the cache is

def test_the_override_wins_everywhere(tmp_path):
    for system in ("linux", "darwin", "win32"):
        assert cache_root({ENV_VAR: str(tmp_path), "XDG_CACHE_HOME": "/x", "LOCALAPPDATA": "C:\\L"}, system) == tmp_path


def test_platform_conventions():
    home = Path.home()
    assert cache_root({}, "linux") == home / ".cache" / "adrs-bench"
    assert cache_root({"XDG_CACHE_HOME": "/var/cache/me"}, "linux") == Path("/var/cache/me/adrs-bench")
    assert cache_root({"XDG_CACHE_HOME": "relative"}, "linux") == home / ".cache" / "adrs-bench"  # XDG: ignored
    assert cache_root({ENV_VAR: ""}, "linux") == home / ".cache" / "adrs-bench"  # empty: unset
    assert cache_root({}, "darwin") == home / "Library" / "Caches" / "adrs-bench"
    assert cache_root({"LOCALAPPDATA": "C:\\Users\\me\\AppData\\Local"}, "win32") == \
        Path("C:\\Users\\me\\AppData\\Local") / "adrs-bench" / "Cache"
    assert cache_root({}, "win32") == home / "AppData" / "Local" / "adrs-bench" / "Cache"


def test_a_miss_builds_and_stores_then_a_replay_is_a_hit_under_a_second(routing, cache, routing_bytes):
    built = load_set(routing, f"fresh:{SEED}")
    assert built.cache.hit is False and built.cache.warning is None
    assert entries(cache) == [built.cache.path] and built.cache.path.parent == cache / "fresh" / routing.spec.id
    calls = []
    started = time.perf_counter()
    again = load_set(routing, f"fresh:{SEED}", progress=lambda done, total: calls.append(done))
    seconds = time.perf_counter() - started
    assert again.cache.hit is True and again.cache.warning is None and calls == []  # nothing was built
    assert seconds < 1.0, f"a cache hit took {seconds:.2f} s"
    # What a record keeps of the set (name, sha256, cases, seed, held_out) and so every score: the same
    # from the cache as built, and as built with no cache at all.
    assert again == built and again.sha256 == sha256_bytes(routing_bytes)
    assert again.cases == routing.plugin.parse_cases(routing_bytes)
    assert (again.name, again.fresh_seed, again.held_out) == (f"fresh:{SEED}", SEED, True)


def test_a_plain_fresh_set_is_cached_under_its_drawn_seed(cache):
    task = get_task("llm_routing")
    drawn = load_set(task, "fresh")
    assert entries(cache) == [drawn.cache.path] and f"fresh-{drawn.fresh_seed}-" in drawn.cache.path.name
    assert load_set(task, drawn.name).cache.hit


def test_seeds_tasks_and_code_do_not_collide(tmp_path):
    code = code_sha256()
    keys = [CacheKey("llm_routing-v3", 1, code), CacheKey("llm_routing-v3", 2, code),
            CacheKey("llm_routing-v4", 1, code), CacheKey("autoscaling-v3", 1, code),
            CacheKey("llm_routing-v3", 1, "0" * 64)]
    paths = [entry_path(key, tmp_path) for key in keys]
    assert len(set(paths)) == len(keys)
    for i, key in enumerate(keys):
        data, outcome = fetch(key, lambda: f"set {i}".encode(), tmp_path)
        assert (data, outcome.hit) == (f"set {i}".encode(), False)
    for i, key in enumerate(keys):
        data, outcome = fetch(key, lambda: pytest.fail("a stored key was rebuilt"), tmp_path)
        assert (data, outcome.hit) == (f"set {i}".encode(), True)


def test_an_entry_under_another_name_is_not_used(tmp_path):
    """The header names its key: a file copied to another seed's (or code's) name is rebuilt."""
    one, two = CacheKey("llm_routing-v3", 1, "a" * 64), CacheKey("llm_routing-v3", 2, "a" * 64)
    fetch(one, lambda: b"one", tmp_path)
    entry_path(two, tmp_path).write_bytes(entry_path(one, tmp_path).read_bytes())
    assert fetch(two, lambda: b"two", tmp_path)[0] == b"two"


def test_the_key_follows_the_code(tmp_path, monkeypatch):
    """An edit to any generator, task or harness source gives another key (a checkout never reads a
    set built by other code)."""
    before = code_sha256()
    root = tmp_path / "tasks"
    monkeypatch.setattr("adrs_bench.registry.tasks_root", lambda: root)
    (root / "t").mkdir(parents=True)
    (root / "t" / "generate.py").write_text("X = 1\n")
    with_one = code_sha256()
    (root / "t" / "generate.py").write_text("X = 2\n")
    assert len({before, with_one, code_sha256()}) == 3


# ------------------------------------------------------------------------------ damage

def damage(path: Path, how: str) -> None:
    whole = path.read_bytes()
    if how == "truncated":
        path.write_bytes(whole[: len(whole) // 2])
    elif how == "edited":  # same length, one byte of the set changed
        path.write_bytes(whole[:-10] + bytes([whole[-10] ^ 1]) + whole[-9:])
    elif how == "empty":
        path.write_bytes(b"")
    else:  # the set's bytes alone, without their header
        path.write_bytes(whole.partition(b"\n")[2])


@pytest.mark.parametrize("how", ["truncated", "edited", "empty", "no header"])
def test_a_damaged_entry_is_rebuilt_and_replaced(tmp_path, how):
    key, data = CacheKey("autoscaling-v3", 5, "e" * 64), os.urandom(100_000)
    path = fetch(key, lambda: data, tmp_path)[1].path
    whole = path.read_bytes()
    damage(path, how)
    got, outcome = fetch(key, lambda: data, tmp_path)
    assert got == data and outcome.hit is False
    assert outcome.warning == f"fresh-set cache: the entry {path} was corrupt or truncated; rebuilt and replaced"
    assert path.read_bytes() == whole and fetch(key, lambda: pytest.fail("rebuilt"), tmp_path)[1].hit


def test_a_truncated_entry_of_a_real_set_is_rebuilt(routing, cache, routing_bytes):
    path = load_set(routing, f"fresh:{SEED}").cache.path
    damage(path, "truncated")
    rebuilt = load_set(routing, f"fresh:{SEED}")
    assert rebuilt.cache.hit is False and "corrupt or truncated" in rebuilt.cache.warning
    assert rebuilt.sha256 == sha256_bytes(routing_bytes) and load_set(routing, f"fresh:{SEED}").cache.hit


def test_an_unwritable_cache_still_gives_the_set_and_one_warning(routing, tmp_path, monkeypatch, routing_bytes):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(ENV_VAR, str(blocker / "cache"))  # unwritable even for root
    loaded = load_set(routing, f"fresh:{SEED}")
    assert loaded.sha256 == sha256_bytes(routing_bytes) and len(loaded.cases) == 5
    warning = loaded.cache.warning
    assert loaded.cache.hit is False and "\n" not in warning
    assert warning.startswith(f"fresh-set cache: cannot write {blocker / 'cache' / 'fresh' / routing.spec.id} (")
    assert warning.endswith(f"the set was built and used but not cached, so the next run builds it again; "
                            f"set {ENV_VAR} to a writable directory")


def test_an_interrupted_build_leaves_nothing(tmp_path):
    key = CacheKey("llm_routing-v3", 1, "b" * 64)

    def interrupted() -> bytes:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch(key, interrupted, tmp_path)
    assert not entry_path(key, tmp_path).exists() and list(tmp_path.rglob("*")) == []


def test_concurrent_runs_leave_one_whole_entry(tmp_path):
    key, data = CacheKey("autoscaling-v3", 3, "c" * 64), os.urandom(4_000_000)
    got, barrier = [], threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        got.append(fetch(key, lambda: data, tmp_path)[0])

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == [data] * 4
    assert [p.name for p in entry_path(key, tmp_path).parent.iterdir()] == [key.filename]  # no temporary left
    assert fetch(key, lambda: pytest.fail("rebuilt"), tmp_path)[1].hit


def test_old_entries_are_pruned_least_recently_used_first(tmp_path):
    keys = [CacheKey("llm_routing-v3", seed, "d" * 64) for seed in range(fresh_cache.MAX_ENTRIES_PER_TASK)]
    for age, key in enumerate(keys):
        fetch(key, lambda: b"x", tmp_path)
        os.utime(entry_path(key, tmp_path), (1_000_000 + age, 1_000_000 + age))
    assert fetch(keys[0], lambda: pytest.fail("rebuilt"), tmp_path)[1].hit  # the oldest, used again
    newest = CacheKey("llm_routing-v3", 999, "d" * 64)
    fetch(newest, lambda: b"x", tmp_path)  # one over the limit
    kept = {p.name for p in entry_path(newest, tmp_path).parent.iterdir()}
    assert len(kept) == fresh_cache.MAX_ENTRIES_PER_TASK
    assert {keys[0].filename, newest.filename} <= kept and keys[1].filename not in kept


# ------------------------------------------------------------------------------ progress

def test_progress_counts_every_case_of_a_real_build_and_only_during_it(routing, cache):
    calls = []
    loaded = load_set(routing, f"fresh:{SEED}", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 5) for done in range(1, 6)] and len(loaded.cases) == 5
    case_built(1, 5)  # a generator run on its own afterwards (generate.py, verify) reports to no one
    assert len(calls) == 5


def test_prism_reports_each_reference(cache, monkeypatch):
    """The real plugin and generator; only the reference solver (minutes) is a placeholder here."""
    monkeypatch.setattr(prism_generate, "_reference_job", lambda job: {"solver": "placeholder"})
    calls = []
    build_fresh_bytes(get_task("prism_placement"), SEED, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 120) for done in range(1, 121)]


def test_autoscaling_reports_each_reference(cache, monkeypatch):
    """The real plugin and generator; short traces and a placeholder reference stand in for the
    2-hour traces and their reference search (minutes)."""
    short = [autoscaling_generate.generate_trace(shape, s, 300.0)
             for shape, s in zip(autoscaling_generate.SHAPES, autoscaling_generate.fresh_seeds(SEED))]
    monkeypatch.setattr(autoscaling_generate, "fresh_traces", lambda seed: short)
    monkeypatch.setattr(autoscaling_reference, "reference_for", lambda trace: autoscaling_instance.Reference(7, 14.1, 3.0, 6.0))
    calls = []
    loaded = load_set(get_task("autoscaling"), f"fresh:{SEED}", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)] and [c.trace for c in loaded.cases] == short
    assert json.loads(loaded.cache.path.read_bytes().partition(b"\n")[2])["generator"]["fresh_seed"] == SEED


@pytest.mark.parametrize(("done", "total", "elapsed", "line"), [
    (0, 120, 0.4, "building fresh:123: 0/120 cases, 0:00 elapsed"),
    (12, 120, 41.0, "building fresh:123: 12/120 cases, 0:41 elapsed, about 6:09 left"),
    (1, 3, 45.2, "building fresh:123: 1/3 cases, 0:45 elapsed, about 1:31 left"),
    (119, 120, 299.0, "building fresh:123: 119/120 cases, 4:59 elapsed, about 0:03 left"),
    (4, 5, 0.2, "building fresh:123: 4/5 cases, 0:00 elapsed, about 0:01 left"),
    (1, 10, 3600.0, "building fresh:123: 1/10 cases, 1:00:00 elapsed, about 9:00:00 left"),
    (120, 120, 301.0, "building fresh:123: 120/120 cases, 5:01 elapsed, done"),
])
def test_progress_line(done, total, elapsed, line):
    assert build_progress_line("fresh:123", done, total, elapsed) == line


def test_no_home_directory_still_gives_the_set(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR)
    for name in ("XDG_CACHE_HOME", "LOCALAPPDATA"):  # every platform's rule then needs a home directory
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(RuntimeError("no home"))))
    data, outcome = fetch(CacheKey("llm_routing-v3", 1, "f" * 64), lambda: b"set")
    assert data == b"set" and outcome.path is None and not outcome.hit
    assert outcome.warning == (f"fresh-set cache: no cache directory (no home); the set was built and used but "
                               f"not cached; set {ENV_VAR} to a directory")
