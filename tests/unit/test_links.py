"""The key that signs download links, kept in DATA_DIR when LINK_SIGNING_KEY is not set."""

import multiprocessing
import stat

from security.links import KEY_FILE, _kept_key


def test_workers_starting_together_all_get_the_one_kept_key(tmp_path):
    """Several processes creating the key at once: one key wins, each reads it whole."""
    path = tmp_path / KEY_FILE
    with multiprocessing.get_context("fork").Pool(8) as workers:
        keys = workers.map(_kept_key, [path] * 32)

    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert path.read_bytes() == keys[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no draft left behind
