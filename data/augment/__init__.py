"""Training augmentation written in imgaug's vocabulary, implemented with TensorFlow ops.

imgaug no longer runs under NumPy 2, so the names and parameter meanings of its augmenters
are kept and re-implemented with stateless ``tf.random`` ops: an augmenter runs inside
``tf.data`` ``map`` in graph mode, and a per-sample ``seed_pair`` makes it reproducible.

Modules: ``registry`` (the single list of augmenters, filled by the ``register`` decorator that
the op modules ``pixel``, ``geometric`` and ``photometric`` use), ``rng`` (stateless draws),
``ranges`` (parameter checks), ``spec`` (the parser), ``builder`` (the tf.data function),
``preview`` (the ``--preview_augment`` grid) and ``paste`` (``--copy_paste``, which takes two pairs and
so runs before the spec's augmenters).

Spec syntax
-----------
A spec is a ``;``-separated list of entries; ``"none"`` or ``""`` means no augmentation::

    Fliplr(0.5); Affine(rotate=(-15, 15), scale=(0.8, 1.2))@0.7; Add((-20, 20)); Dropout

* ``Name`` or ``Name()`` uses the defaults below; ``Name(args)`` takes positional arguments in
  the table's order and/or keyword arguments, written as Python literals (parsed with
  ``ast.literal_eval``, never evaluated).
* A number is a constant; a ``(low, high)`` pair is sampled uniformly per image (integers for
  integer parameters such as ``k``). Pixel values (``value``, ``loc``, ``scale`` of noise,
  ``lam``, ``replacement``, ``cval``, ``pad_cval``) are on imgaug's 0..255 scale.
* ``per_channel`` is ``True``/``False`` or imgaug's probability (e.g. ``0.5``) of sampling
  each channel separately.
* ``@p`` after an entry applies it to a sample with probability ``p`` (default 1).
* Entries run in order; the image is clipped to [0, 1] after each one, as imgaug's uint8 would.
* Entries of kind ``geometric`` warp the matte with the image (bilinear; where the fill mode is
  constant, the matte is filled with 0); those of kind ``image`` change only the image.

Notes: ``mode``/``pad_mode`` is one of constant, reflect, wrap, nearest. ``Affine``'s
``translate_percent`` is drawn separately for x and y, ``rotate``/``shear`` are degrees
(positive rotates clockwise, ``shear`` is along x). ``CropAndPad``'s ``percent`` is per side,
negative crops and positive pads, and the result is resized back to the input size.
``PerspectiveTransform``'s ``scale`` is the std of the corner jitter as a fraction of the image
size. ``size_percent``, when set, replaces ``size_px`` (the low-resolution mask size).
``min_size`` and ``nb_keep_channels`` take a single number. Unlike imgaug, a list of values
(a random choice) is not accepted, and ``Dropout2d``/``TotalDropout`` leave the matte as it is
(imgaug clears the label when every channel is dropped).

Supported names
---------------
The table is generated from the registry when the package is imported.

"""
# registration order is the tables' order: the seed's list (pixel) first
from data.augment import pixel, geometric, photometric  # noqa: F401
from data.augment.builder import build_augmenter
from data.augment.preview import preview_grid
from data.augment.registry import AUGMENTERS, GEOMETRIC, IMAGE, Augmenter, markdown_table, register
from data.augment.spec import DEFAULT_SPEC, FILL_MODES, AugmentSpecError, Entry, parse_spec

__doc__ = (__doc__ or "") + markdown_table()  # None under python -OO

__all__ = ["AUGMENTERS", "DEFAULT_SPEC", "FILL_MODES", "GEOMETRIC", "IMAGE", "AugmentSpecError", "Augmenter",
           "Entry", "build_augmenter", "markdown_table", "parse_spec", "preview_grid", "register"]
