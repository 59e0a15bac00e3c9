"""Finding this process's cgroup from /proc/self/cgroup and /proc/self/mountinfo, wherever the
hierarchy is mounted and whatever part of it the mount shows (containers mount a subtree)."""

from sessionpool.cgroups import _locate, _Mount, _unescape


def test_a_group_is_found_below_a_mount_of_the_whole_hierarchy(tmp_path):
    (tmp_path / "process_api" / "abc").mkdir(parents=True)
    mount = _Mount("/", str(tmp_path), "cgroup", {"rw", "memory"})
    assert _locate("/process_api/abc", mount) == str(tmp_path / "process_api" / "abc")
    assert _locate("/", mount) == str(tmp_path)


def test_a_group_is_found_below_a_mount_of_a_subtree(tmp_path):
    (tmp_path / "inner").mkdir()
    mount = _Mount("/docker/abc", str(tmp_path), "cgroup2", {"rw"})
    assert _locate("/docker/abc", mount) == str(tmp_path)
    assert _locate("/docker/abc/inner", mount) == str(tmp_path / "inner")
    assert _locate("/docker/abcdef", mount) is None  # a sibling, not inside the mount
    assert _locate("/elsewhere", mount) is None


def test_no_mount_or_no_group_is_none(tmp_path):
    assert _locate(None, _Mount("/", str(tmp_path), "cgroup2", set())) is None
    assert _locate("/x", None) is None
    assert _locate("/missing", _Mount("/", str(tmp_path), "cgroup2", set())) is None


def test_mountinfo_escapes_are_undone():
    assert _unescape(r"/sys/fs/cgroup/a\040b\011c\134d") == "/sys/fs/cgroup/a b\tc\\d"
    assert _unescape("/plain/é") == "/plain/é"
