"""What the engine's work takes, as small typed records; main.py fills them from its flags.

The defaults are the command line's (a test keeps the two the same), so code that calls the engine
directly (tests, benchmarks, notebooks) names only what it changes.
"""
import dataclasses
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class TrainConfig:
    """A training, fine-tuning or resumed run (``--train``, ``--finetune``, ``--resume``)."""
    dataset_dir: str = "./dataset/selfie"
    checkpoint_path: str = "./trained_models"
    log_dir: str = "./logs"
    weight_dir: str = "./trained_models/initial.h5"
    input_shape: int = 256
    nb_epoch: int = 100
    batch_size: int = 16
    lr: float = 1e-4
    lr_schedule: str = "constant"
    val_ratio: float = 0.8
    seed: int = 42
    split_seed: Optional[int] = None
    checkpoint: int = 10
    monitor: str = "val_loss"
    finetune: bool = False
    freeze_encoder: int = 3
    resume: bool = False
    model: Optional[str] = None
    encoder: Optional[str] = None
    encoder_weights: Optional[str] = None
    activation: Optional[str] = None
    width: Optional[float] = None
    loss: str = "combined"
    focal_weight: float = 0.8
    focal_gamma: float = 2.0
    focal_alpha: Optional[float] = None
    dice_weight: float = 0.0
    boundary_weight: float = 0.1
    boundary_loss: str = "focal"
    matting_weight: Optional[float] = None
    augment: str = "default"
    copy_paste: float = 0.0
    teacher: str = ""
    distill_weight: float = 0.5
    distill_temperature: float = 1.0
    unlabeled_dir: str = ""
    input_channels: Optional[int] = None  # 4: RGB + the previous frame's mask (video); data/prior.py
    prior_shift: float = 0.01
    prior_scale: float = 0.02
    prior_rotate: float = 2.0
    prior_morph: float = 0.01
    prior_blur: float = 0.01
    prior_noise: float = 0.03
    prior_empty: float = 0.15
    distribute: str = "auto"  # devices and clusters: engine/distribute.py
    replicas: int = 1
    mixed_precision: bool = False
    jit_compile: bool = False
    cache: bool = False
    verbose: int = 1
    given: frozenset = field(default=frozenset(), compare=False)  # the flags named on the command line

    @property
    def data_split_seed(self):
        return self.seed if self.split_seed is None else self.split_seed

    def settings(self):
        """The run's settings as a plain dict (run_config.json), without ``given``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "given"}


@dataclass(frozen=True)
class OutputConfig:
    """How ``--evaluate`` and ``--infer_single_img`` run a model and what they write."""
    input_shape: Optional[int] = None
    output_dir: str = "./outputs"
    refine: str = "guided"
    trimap_band: Optional[int] = None
    background: str = ""


@dataclass(frozen=True)
class VideoConfig:
    """How ``--infer_video`` runs a model on a video and what it writes (engine/video.py)."""
    video_path: str = ""
    temporal_smoothing: float = 0.0
    motion_compensation: bool = True
    input_shape: Optional[int] = None
    output_dir: str = "./outputs"
    background: str = ""


def from_flags(cls, flags):
    """A ``cls`` record from an object with the flags as attributes (argparse's Namespace)."""
    return cls(**{f.name: getattr(flags, f.name) for f in dataclasses.fields(cls) if hasattr(flags, f.name)})
