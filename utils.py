"""Generic helpers: errors for people, warnings, files written durably, and quiet native code.

A ``UserError`` is a mistake a user can fix (a flag, a path, a file): main.py prints its message as a
single line on stderr and exits with status 2, without a traceback. ``RunStopped`` is a run that
stopped on purpose with a reason (exit status 1). A warning is one line on stderr; the work goes on.
"""
import contextlib
import json
import os
import sys
import tempfile


class UserError(Exception):
    """A problem with the user's input, explained in one line."""


class RunStopped(Exception):
    """A run that stopped on purpose with a reason (such as a non-finite loss); exit status 1."""


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


def writable_folder(path, flag):
    """Create ``path`` if needed; a UserError names ``flag`` if it cannot be created or written."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise UserError(f"{flag}: cannot create {path}: {err.strerror}") from None
    if not os.access(path, os.W_OK):
        raise UserError(f"{flag}: {path} is not writable")
    return path


def durable_replace(tmp, path):
    """Rename the complete file ``tmp`` over ``path`` once its bytes and then the rename are on disk."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file, fsynced, and a rename."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    durable_replace(tmp, path)


def read_json(path):
    """The content of a JSON file, or {} if there is none."""
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    write_bytes(path, json.dumps(obj, indent=2).encode())


@contextlib.contextmanager
def native_stderr_muted():
    """Hide what native code writes to stderr in this block: TensorFlow while it loads and probes
    for GPUs (before absl's log set-up, so TF_CPP_MIN_LOG_LEVEL cannot silence it), the TFLite
    converter's notes. If the block fails, what was written is shown after all.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
