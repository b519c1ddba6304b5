"""Running a queued spec: the engine (a dashboard thread that starts and supervises worker
processes), the worker process itself, the executor that builds a strategy's tuner and runs
it, the recording hooks that write every trial and epoch to storage, training callbacks,
the distributed chief and workers, the relay for workers on other machines, and the run
controls (queue, stop, cancel, resume) that pages and the CLI call.

Only ``executor``, ``recording``, ``models``, ``distributed`` and ``training``'s callbacks
import TensorFlow or KerasTuner, and only inside a worker process. KerasTuner's private API
is touched only in ``kt_compat``, each use pinned by ``tests/runner/test_kt_compat.py``.
"""
