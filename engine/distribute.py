"""Training on several devices and machines with tf.distribute, and the device settings that go with it.

``--distribute`` picks TensorFlow's strategy: ``none`` (the default strategy: one device), ``mirrored``
(MirroredStrategy: every GPU of this machine, or ``--replicas`` logical CPUs), ``multiworker``
(MultiWorkerMirroredStrategy over the machines that ``TF_CONFIG`` names), ``auto`` (multiworker when
``TF_CONFIG`` names a cluster, mirrored when more than one GPU is visible or ``--replicas`` > 1, else none).

``--batch_size`` is the global batch: each of R replicas takes batch_size / R samples of every step. Under
a strategy every step takes a whole global batch (an epoch's last, partial one is dropped), each input
pipeline (one per worker) reads only its own share of it, and batch norm is synchronized across the
replicas when each sees fewer than ``SYNC_BN_BELOW`` samples. Validation reads every pair, in per-replica shares
that leave no replica empty. Only the chief writes files.
"""
import contextlib
import functools
import itertools
import json
import math
import os
import re
from typing import Callable, Iterator

import keras
import tensorflow as tf

from config import DISTRIBUTE
from utils import RunStopped, UserError

SYNC_BN_BELOW = 16  # per-replica batches smaller than this get synchronized batch norm
DISTRIBUTED = (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)


def tf_config() -> dict:
    """The ``TF_CONFIG`` environment variable, parsed ({} when unset)."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UserError(f"TF_CONFIG is not a JSON object: {text[:80]}")
    return value


def names_cluster(config: dict) -> bool:
    """Whether a parsed ``TF_CONFIG`` names a cluster of workers."""
    return bool(config.get("cluster"))


def resolve(mode: str, gpus: int, replicas: int, cluster: bool) -> str:
    """The strategy ``--distribute=auto`` stands for here; any other mode as it is."""
    if mode not in DISTRIBUTE:
        raise ValueError(f"unknown --distribute '{mode}'; valid: {', '.join(DISTRIBUTE)}")
    if mode != "auto":
        return mode
    if cluster:
        return "multiworker"
    return "mirrored" if gpus > 1 or replicas > 1 else "none"


def split_cpu(replicas: int) -> list:
    """Split the CPU into ``replicas`` logical devices (``--replicas``: MirroredStrategy without GPUs, for
    testing); their names. Only possible before TensorFlow's runtime starts in this process."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu) or []
    if len(current) != replicas:
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
        except RuntimeError:
            raise UserError(f"--replicas={replicas}: TensorFlow had already started in this process, so its CPU "
                            f"can no longer be split; give --replicas on a command of its own") from None
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def check_replicas(mode: str, replicas: int, gpus: int) -> None:
    """Refuse ``--replicas`` where it has no meaning: it splits a CPU for MirroredStrategy."""
    if replicas == 1:
        return
    if gpus:
        raise UserError(f"--replicas={replicas} splits the CPU for testing, but {gpus} GPU(s) are visible: "
                        f"--distribute=mirrored uses each GPU as a replica; leave --replicas at 1")
    if mode != "mirrored":
        raise UserError(f"--replicas={replicas} splits the CPU for --distribute=mirrored, not for --distribute={mode}")


@functools.lru_cache(maxsize=None)
def strategy_for(mode: str = "auto", replicas: int = 1) -> tf.distribute.Strategy:
    """The tf.distribute strategy of ``--distribute`` and ``--replicas`` (one per process, made before any
    TensorFlow op runs: MultiWorkerMirroredStrategy and logical devices need that)."""
    gpus = len(tf.config.list_physical_devices("GPU"))
    cluster = tf_config()
    if not cluster:
        os.environ.pop("TF_CONFIG", None)  # set but blank: TensorFlow's strategies would fail to parse it
    chosen = resolve(mode, gpus, replicas, names_cluster(cluster))
    check_replicas(chosen, replicas, gpus)
    if chosen == "none":
        return tf.distribute.get_strategy()
    if chosen == "mirrored":
        return keras_compatible(tf.distribute.MirroredStrategy(split_cpu(replicas) if replicas > 1 else None))
    if not names_cluster(cluster):
        raise UserError("--distribute=multiworker needs TF_CONFIG naming the cluster and this task, e.g. "
                        '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                        '"task": {"type": "worker", "index": 0}}')
    return keras_compatible(tf.distribute.MultiWorkerMirroredStrategy())


def keras_compatible(strategy: tf.distribute.Strategy) -> tf.distribute.Strategy:
    """``strategy`` whose ``reduce`` takes what Keras 3 gives it. Keras's fit and evaluate reduce a whole
    (image, targets) batch to learn its shapes, and each step's scalar figures along axis 0. The batch's
    per-replica shares differ in size when a validation step does not split evenly (``validation_shares``),
    which no strategy can average, and MultiWorkerMirroredStrategy refuses nested values and a scalar's axis
    (keras-team/keras#20585, open). Here a nested value, a batch, is answered with its first local share,
    whose shapes are all Keras uses, and a scalar is reduced across the replicas alone, as MirroredStrategy
    does; the change is confined to this strategy object."""
    reduce = strategy.reduce

    def reduce_each(reduce_op, value, axis=None):
        if axis is None and tf.nest.is_nested(value):
            return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], value)

        def one(v):
            scalar = axis is not None and strategy.experimental_local_results(v)[0].shape.rank == 0
            return reduce(reduce_op, v, axis=None if scalar else axis)
        return tf.nest.map_structure(one, value)
    strategy.reduce = reduce_each
    return strategy


def check_devices(mixed_precision: bool, jit_compile: bool, strategy: tf.distribute.Strategy) -> None:
    """Refuse what cannot run here, with one line; note what runs but does not pay."""
    on_cpu = not tf.config.list_physical_devices("GPU")
    if jit_compile and on_cpu and isinstance(strategy, tf.distribute.MirroredStrategy) \
            and strategy.num_replicas_in_sync > 1:
        raise UserError(f"--jit_compile=True cannot compile for the {strategy.num_replicas_in_sync} logical CPU "
                        f"devices of --replicas (XLA keeps a step on one device); drop one of the two")
    if jit_compile and mixed_precision and on_cpu:
        raise UserError("--jit_compile=True with --mixed_precision=True needs a GPU: XLA on a CPU fails to compile "
                        "the float16 training step; drop one of the two here")
    if mixed_precision and on_cpu:
        print("note: --mixed_precision=True on a CPU trains correctly but slower than float32; "
              "it pays on GPUs with float16 tensor cores")


def is_distributed(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, DISTRIBUTED)


def is_chief(strategy: tf.distribute.Strategy = None) -> bool:
    """Whether this process writes the run's files: always, except on a non-chief worker of a cluster."""
    return (strategy or tf.distribute.get_strategy()).extended.should_checkpoint


def describe(strategy: tf.distribute.Strategy) -> str:
    """One line naming the strategy, its replicas and this process's role."""
    multiworker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    name = ("MultiWorkerMirroredStrategy" if multiworker else "MirroredStrategy" if is_distributed(strategy)
            else "no strategy (one device)")
    cluster = tf_config() if multiworker else {}
    task = cluster.get("task", {})
    role = f"; {task.get('type', 'worker')} {task.get('index', 0)}" + (" (chief)" if is_chief(strategy) else "")
    return f"distribute: {name}, {strategy.num_replicas_in_sync} replica(s)" + (role if cluster else "")


def check_batch(batch_size: int, pairs: int, strategy: tf.distribute.Strategy) -> None:
    """Refuse a global batch that the replicas cannot share evenly, or that no epoch fills."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UserError(f"--batch_size={batch_size} is the global batch and must split evenly over the {replicas} "
                        f"replicas (e.g. --batch_size={max(1, batch_size // replicas) * replicas})")
    if is_distributed(strategy) and pairs < batch_size:
        raise UserError(f"--batch_size={batch_size}: under --distribute every step takes a whole global batch, "
                        f"and there are only {pairs} training pairs")


def check_validation(sizes: list, strategy: tf.distribute.Strategy) -> None:
    """Refuse a validation set (``sizes``: each dataset's) smaller than the replicas: each replica needs a
    sample of every validation step (``validation_shares``)."""
    replicas = strategy.num_replicas_in_sync
    if min(sizes) < replicas:
        raise UserError(f"--val_ratio leaves {min(sizes)} validation pair(s) in a dataset, fewer than the {replicas} "
                        f"replicas of --distribute: lower --val_ratio or add pairs")


def steps_per_epoch(pairs: int, batch_size: int, strategy: tf.distribute.Strategy) -> int:
    """Steps in an epoch: every batch, the last partial one too; under a strategy only whole global batches."""
    return pairs // batch_size if is_distributed(strategy) else math.ceil(pairs / batch_size)


def per_replica_stream(strategy: tf.distribute.Strategy, stream: Callable, batch_size: int) -> Callable:
    """``stream(first_epoch=, shard=)`` (``data.dataset.make_dataset``'s training pipeline) distributed with
    ``distribute_datasets_from_function``: each input pipeline reads its own share of every global batch, and
    tf.distribute prefetches each replica's batches to its device. Unchanged without a strategy."""
    if not is_distributed(strategy):
        return stream

    def from_epoch(first_epoch: int = 0) -> tf.distribute.DistributedDataset:
        def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
            shard = (context.input_pipeline_id, context.num_input_pipelines,
                     context.get_per_replica_batch_size(batch_size))
            return stream(first_epoch=first_epoch, shard=shard)
        return strategy.distribute_datasets_from_function(dataset_fn)
    return from_epoch


def validation_shares(pairs: int, batch_size: int, replicas: int) -> list:
    """How many validation samples each replica takes at each step, ``[[samples of replica r] per step]``: steps
    of at most ``batch_size`` where the pairs allow it, every replica at least one sample of each step (a
    convolution on an empty share fails), shares differing by at most one. Every pair is evaluated once."""
    steps = max(1, min(math.ceil(pairs / batch_size), pairs // replicas))
    per_step = [pairs // steps + (step < pairs % steps) for step in range(steps)]
    return [[n // replicas + (replica < n % replicas) for replica in range(replicas)] for n in per_step]


def per_replica_validation(strategy: tf.distribute.Strategy, stream: Callable, pairs: list,
                           batch_size: int) -> tuple:
    """``(stream(pairs), its steps)`` (``data.dataset.make_dataset``'s evaluation pipeline): under a strategy
    split over the replicas by ``validation_shares`` and distributed with ``distribute_datasets_from_function``
    (left to itself, tf.distribute cuts an epoch's last partial batch into shares filled in order, leaving
    replicas empty), endless, with the number of steps of one pass, which Keras cannot count; unchanged and
    None without one."""
    if not is_distributed(strategy):
        return stream(pairs), None
    replicas = strategy.num_replicas_in_sync
    steps = validation_shares(len(pairs), batch_size, replicas)
    shares = [n for step in steps for n in step]
    starts = list(itertools.accumulate([0, *shares]))

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_pipeline = replicas // context.num_input_pipelines
        mine = [j for j in range(len(shares)) if j % replicas // per_pipeline == context.input_pipeline_id]
        reads = stream([pairs[i] for j in mine for i in range(starts[j], starts[j + 1])]).rebatch(
            [shares[j] for j in mine])
        return reads.repeat()  # Keras reads a given number of steps on from where the last validation stopped
    return strategy.distribute_datasets_from_function(dataset_fn), len(steps)


def all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of ``model``, those of nested models (a keras.applications encoder) too."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def synchronize_batchnorm(model: keras.Model, strategy: tf.distribute.Strategy, batch_size: int) -> bool:
    """Batch norm over the whole global batch (``synchronized=True``) when each replica sees fewer than
    SYNC_BN_BELOW samples; whether it did."""
    replicas = strategy.num_replicas_in_sync
    if replicas < 2 or batch_size // replicas >= SYNC_BN_BELOW:
        return False
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
    print(f"batch norm synchronized across the {replicas} replicas (per-replica batch {batch_size // replicas} "
          f"< {SYNC_BN_BELOW})")
    return True


@contextlib.contextmanager
def precision(mixed: bool) -> Iterator[None]:
    """Keras's ``mixed_float16`` policy while the model is built and trained (``--mixed_precision``): float16
    computation, float32 variables, the model's outputs and losses in float32 and a loss-scaling optimizer.
    The previous policy returns afterwards, so exports in the same command build float32 models."""
    if not mixed:
        yield
        return
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def chief_only(make: Callable[[], list], strategy: tf.distribute.Strategy = None) -> list:
    """``make()`` (callbacks that write files: checkpoints, TensorBoard, images) on the chief; [] elsewhere,
    without calling it, so a worker creates no folder or file."""
    return make() if is_chief(strategy) else []


LOST_PEER = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError)


@contextlib.contextmanager
def cluster_failures(strategy: tf.distribute.Strategy) -> Iterator[None]:
    """A worker of a cluster that stops (killed, its machine gone) makes TensorFlow abort the collectives
    on the others: that becomes one line saying how to go on."""
    try:
        yield
    except LOST_PEER as err:
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        first = re.sub(r"\{\{.*?\}\}\s*", "", (err.message.strip().splitlines() or [type(err).__name__])[0])[:160]
        raise RunStopped(f"--distribute=multiworker: the cluster lost a worker ({first}); start every worker "
                         f"again with --resume=True to go on from the last completed epoch") from None
