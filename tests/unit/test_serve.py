"""How many workers `python -m serve` starts by default: the CPUs it may use, within the CPU
quota of its cgroup (a container's), at most four."""

import os

import pytest

import serve


@pytest.fixture
def quota_files(tmp_path, monkeypatch):
    """Point the quota readers at files of the test's own, as a container's cgroup has them."""
    v2, v1 = tmp_path / "cpu.max", tmp_path / "v1" / "cpu.cfs_quota_us"
    v1.parent.mkdir()
    monkeypatch.setattr(
        serve, "CPU_QUOTA_FILES", ((str(v2), serve._cpu_max), (str(v1), serve._cfs_quota))
    )
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    return v2, v1


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [("100000 100000", 1), ("150000 100000", 2), ("50000 100000", 1), ("max 100000", 8)],
)
def test_cgroup_v2_quota_bounds_the_cpus(quota_files, cpu_max, cpus):
    quota_files[0].write_text(cpu_max + "\n")
    assert serve.usable_cpus() == cpus


def test_cgroup_v1_quota_bounds_the_cpus(quota_files):
    _, v1 = quota_files
    v1.write_text("200000\n")
    v1.with_name("cpu.cfs_period_us").write_text("100000\n")
    assert serve.usable_cpus() == 2
    v1.write_text("-1\n")
    assert serve.usable_cpus() == 8


def test_without_a_quota_the_affinity_counts_and_workers_stop_at_four(quota_files):
    assert serve.usable_cpus() == 8
    assert serve.default_workers() == serve.MAX_DEFAULT_WORKERS == 4
