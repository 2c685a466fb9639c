"""Files written durably: complete bytes on disk before the rename, and the rename itself."""
import os

from utils import read_json, write_json


def test_writes_are_fsynced_before_and_after_the_rename(tmp_path, monkeypatch):
    synced, renamed = [], []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (renamed.append(len(synced)), real_replace(a, b)))
    path = tmp_path / "state.json"
    write_json(str(path), {"epoch": 3})
    assert read_json(str(path)) == {"epoch": 3} and not os.path.exists(f"{path}.tmp")
    assert synced == [f"{path}.tmp", str(tmp_path)] and renamed == [1]  # the file, the rename, then its folder
