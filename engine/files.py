"""File-system helpers: folders checked before work starts, and files written atomically."""
import json
import os

from errors import UserError


def writable_folder(path, flag):
    """Create ``path`` if needed; a UserError names ``flag`` if it cannot be created or written."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise UserError(f"{flag}: cannot create {path}: {err.strerror}") from None
    if not os.access(path, os.W_OK):
        raise UserError(f"{flag}: {path} is not writable")
    return path


def write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_json(path):
    """The content of a JSON file, or {} if there is none."""
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    write_bytes(path, json.dumps(obj, indent=2).encode())
