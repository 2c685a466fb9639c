"""The spec parser: ``"Name(args)@p; ..."`` -> a list of Entry, or one line naming what is wrong."""
import ast
from dataclasses import dataclass, field

from data.augment.registry import AUGMENTERS
from utils import UserError

DEFAULT_SPEC = ("Fliplr(0.5); "
                "Affine(scale=(0.85, 1.15), translate_percent=(-0.05, 0.05), rotate=(-15, 15))@0.7; "
                "Add((-20, 20))@0.5; Multiply((0.8, 1.2), per_channel=0.2)@0.5; "
                "LinearContrast((0.75, 1.25))@0.5; GaussianBlur(sigma=(0, 1))@0.2; "
                "AdditiveGaussianNoise(scale=(0, 8))@0.2; JpegCompression((30, 80))@0.2")

FILL_MODES = ("constant", "reflect", "wrap", "nearest")  # the only string-valued parameters


class AugmentSpecError(UserError, ValueError):
    """An unusable augmentation spec, explained in one line."""


@dataclass(frozen=True)
class Entry:
    """One parsed spec entry: augmenter ``name`` with normalized ``params``, applied with probability ``p``.

    ``fn(image, matte, seed) -> (image, matte)`` runs it.
    """
    name: str
    params: dict
    p: float
    fn: object = field(repr=False, compare=False)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _normalize(key, value, default):
    """Check one parameter against the kind of its default; numbers become (low, high) float pairs."""
    if isinstance(default, str):
        if value not in FILL_MODES:
            raise ValueError(f"{key}={value!r} must be one of {', '.join(FILL_MODES)}")
        return value
    if isinstance(default, bool):
        if isinstance(value, bool) or (_is_number(value) and 0 <= value <= 1):
            return float(value) if key == "per_channel" else bool(value)
        also = " or a probability" if key == "per_channel" else ""
        raise ValueError(f"{key}={value!r} must be True or False{also}")
    if value is None and default is None:
        return None
    if _is_number(value):
        return float(value), float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_number, value)) and value[0] <= value[1]:
        return float(value[0]), float(value[1])
    raise ValueError(f"{key}={value!r} must be a number or a (low, high) pair with low <= high")


def _split_probability(text):
    """``"Name(args)@p"`` -> ("Name(args)", p); no ``@`` means p = 1."""
    if "@" not in text:
        return text.strip(), 1.0
    call, p = text.rsplit("@", 1)
    try:
        p = float(p)
    except ValueError:
        raise ValueError(f"probability after '@' must be a number, got {p.strip()!r}") from None
    if not 0 <= p <= 1:
        raise ValueError(f"probability after '@' must lie within [0, 1], got {p:g}")
    return call.strip(), p


def _parse_call(call):
    """``"Name(1, key=(2, 3))"`` -> ("Name", [1], {"key": (2, 3)}), literals only."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"cannot parse it ({e.msg}); expected Name, Name(args) or Name(args)@p") from None
    if isinstance(node, ast.Name):
        return node.id, [], {}
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ValueError("expected Name, Name(args) or Name(args)@p")
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise ValueError("*args and **kwargs are not supported")
    try:
        return (node.func.id, [ast.literal_eval(a) for a in node.args],
                {k.arg: ast.literal_eval(k.value) for k in node.keywords})
    except (ValueError, TypeError):
        raise ValueError("arguments must be literals such as 0.5, (-20, 20), True or 'reflect'") from None


def _bind(augmenter, args, kwargs):
    """The augmenter's defaults overridden by positional then keyword arguments, normalized."""
    defaults = augmenter.defaults
    if len(args) > len(defaults):
        raise ValueError(f"takes at most {len(defaults)} positional argument(s), got {len(args)}")
    given = dict(zip(defaults, args))
    for key, value in kwargs.items():
        if key not in defaults:
            raise ValueError(f"unknown parameter {key!r}")
        if key in given:
            raise ValueError(f"parameter {key!r} given twice")
        given[key] = value
    params = {**defaults, **(given or augmenter.bare)}
    return {key: _normalize(key, value, defaults[key]) for key, value in params.items()}


def _parse_entry(text):
    """One spec entry -> Entry; AugmentSpecError (one line) naming the entry if it is unusable."""
    shown = " ".join(text.split())
    names = ", ".join(AUGMENTERS)
    try:
        call, p = _split_probability(text)
        name, args, kwargs = _parse_call(call)
    except ValueError as e:
        raise AugmentSpecError(f"augment entry {shown!r}: {e}; accepted names: {names}") from None
    if name not in AUGMENTERS:
        raise AugmentSpecError(f"augment entry {shown!r}: unknown name {name!r}; accepted names: {names}")
    augmenter = AUGMENTERS[name]
    try:
        params = _bind(augmenter, args, kwargs)
        return Entry(name, params, p, augmenter.make(params))
    except ValueError as e:
        raise AugmentSpecError(f"augment entry {shown!r}: {e}; {name} accepts: {', '.join(augmenter.defaults)}") \
            from None


def parse_spec(spec):
    """Parse a ``;``-separated spec into a list of Entry; ``"none"`` or blank gives [], ``"default"`` the
    preset ``DEFAULT_SPEC``."""
    if spec is None or spec.strip().lower() in ("", "none"):
        return []
    if spec.strip().lower() == "default":
        spec = DEFAULT_SPEC
    return [_parse_entry(text) for text in spec.split(";") if text.strip()]
