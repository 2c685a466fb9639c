"""Keep the chatter of TensorFlow's native code off the terminal."""
import contextlib
import os
import sys
import tempfile


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
