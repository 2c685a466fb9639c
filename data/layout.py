"""The dataset layout on disk, without TensorFlow: which files make a pair, and their companions.

A folder holds pairs ``NAME.(png|jpg|jpeg)`` + ``NAME_matte.png``. A pseudo-alpha cache
(``python -m data.pseudo_alpha``, docs/DATA.md) adds two companions per pair: ``NAME_fg.png`` and
``NAME_bg.png``, the foreground and background colours that composite to the photo with the matte.
A ``NAME_fg.png`` or ``NAME_bg.png`` is a companion when ``NAME_matte.png`` is there, else a photo.
"""
import os

from utils import UserError, warn

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
MATTE_SUFFIX = "_matte.png"
FOREGROUND_SUFFIX = "_fg.png"
BACKGROUND_SUFFIX = "_bg.png"
COMPANION_SUFFIXES = (FOREGROUND_SUFFIX, BACKGROUND_SUFFIX)
LAYOUT = "NAME.(png|jpg|jpeg) + NAME_matte.png"


def name_list(names, limit=3):
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def is_companion(name, mattes):
    """Whether file ``name`` is the F or B companion of a pair whose stem is in ``mattes``."""
    return any(name.endswith(s) and name[: -len(s)] in mattes and name[:-4] not in mattes
               for s in COMPANION_SUFFIXES)


def find_pairs(folder):
    """Sorted ``(image_path, matte_path)`` pairs in ``folder``; a UserError if the folder is unusable.
    Companions (``NAME_fg.png``, ``NAME_bg.png``) are not photos."""
    if not os.path.isdir(folder):
        raise UserError(f"dataset folder not found: {folder}")
    files = sorted(os.listdir(folder))
    mattes = {f[: -len(MATTE_SUFFIX)] for f in files if f.endswith(MATTE_SUFFIX)}
    images = {}
    for f in files:
        if f.lower().endswith(IMAGE_EXTENSIONS) and not f.endswith(MATTE_SUFFIX) and not is_companion(f, mattes):
            stem = os.path.splitext(f)[0]
            if stem in images:
                warn(f"{folder} holds both {images[stem]} and {f} for {stem}{MATTE_SUFFIX}: using {f}")
            images[stem] = f
    if not images and not mattes:
        raise UserError(f"no image/matte pairs in {folder}: expected {LAYOUT}")
    lonely_images = sorted(images[n] for n in images.keys() - mattes)
    if lonely_images:
        raise UserError(f"{len(lonely_images)} image(s) in {folder} have no NAME_matte.png: {name_list(lonely_images)}")
    lonely_mattes = sorted(n + MATTE_SUFFIX for n in mattes - images.keys())
    if lonely_mattes:
        raise UserError(f"{len(lonely_mattes)} matte(s) in {folder} have no image: {name_list(lonely_mattes)}")
    return [(os.path.join(folder, images[n]), os.path.join(folder, n + MATTE_SUFFIX)) for n in sorted(images)]


def companion_paths(matte_path):
    """``(NAME_fg.png, NAME_bg.png)`` beside ``NAME_matte.png``."""
    stem = matte_path[: -len(MATTE_SUFFIX)]
    return stem + FOREGROUND_SUFFIX, stem + BACKGROUND_SUFFIX


def has_companions(pairs):
    """Whether every pair of ``pairs`` has a matte and both companions on disk."""
    return bool(pairs) and all(matte and all(map(os.path.isfile, companion_paths(matte))) for _, matte in pairs)


def weighted_dirs(text):
    """``--dataset_dir``: ``[(folder, sampling weight)]`` from one folder or several separated by commas, each
    optionally followed by ``@w``: its training pairs are drawn w times as often (default 1)."""
    entries = [d.strip() for d in text.split(",") if d.strip()]
    if not entries:
        raise UserError(f"--dataset_dir is empty: give a folder with training/ and testing/, got '{text}'")
    weighted = []
    for entry in entries:
        folder, _, weight = entry.rpartition("@") if "@" in entry else (entry, "", "1")
        try:
            value = float(weight)
        except ValueError:
            value = 0.0
        if value <= 0:
            raise UserError(f"--dataset_dir: '{entry}' has a sampling weight that is not a positive number")
        weighted.append((folder, value))
    return weighted


def dataset_dirs(text):
    """The folders of ``--dataset_dir``, without their sampling weights."""
    return [folder for folder, _ in weighted_dirs(text)]


def set_names(folders):
    """A short name per dataset folder (its last path part), for per-set figures such as val_eg1800_iou."""
    names = [os.path.basename(os.path.normpath(f)) for f in folders]
    if len(set(names)) < len(names):
        raise UserError(f"--dataset_dir: two folders share the name {next(n for n in names if names.count(n) > 1)}; "
                        "per-set figures need distinct folder names")
    return names
