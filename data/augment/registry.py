"""The registry: the single list of augmenters, in the order the tables show them."""
from dataclasses import dataclass, field

IMAGE = "image"  # changes the image only; the matte passes through
GEOMETRIC = "geometric"  # moves pixels; the matte is warped with the image

AUGMENTERS = {}


@dataclass(frozen=True)
class Augmenter:
    """One name of the spec vocabulary.

    ``build(**params)`` returns ``op(image, seed) -> image`` for an IMAGE augmenter and
    ``op(image, matte, seed) -> (image, matte)`` for a GEOMETRIC one. The order of ``defaults``
    is the order of positional arguments; ``bare`` is what the name means written without
    arguments, where its defaults alone would do nothing; ``note`` ends its table row.
    """
    name: str
    kind: str
    build: object = field(repr=False)
    defaults: dict
    bare: dict
    note: str

    def make(self, params):
        """``fn(image, matte, seed) -> (image, matte)`` for the normalized ``params``."""
        op = self.build(**params)
        if self.kind == GEOMETRIC:
            return op
        return lambda image, matte, seed: (op(image, seed), matte)


def register(name, kind, defaults, bare=None, note=""):
    """Decorator registering a builder as augmenter ``name``; the builder is returned unchanged."""
    assert kind in (IMAGE, GEOMETRIC), kind

    def decorate(build):
        AUGMENTERS[name] = Augmenter(name, kind, build, defaults, bare or {}, note)
        return build
    return decorate


def _assignments(params):
    """``key=value, ...`` with each value written as in a spec."""
    return ", ".join(f'{key}="{value}"' if isinstance(value, str) else f"{key}={value}"
                     for key, value in params.items())


def _row(augmenter):
    defaults = _assignments(augmenter.defaults)
    if augmenter.bare:
        defaults += f"; bare `{augmenter.name}` means {_assignments(augmenter.bare)}"
    if augmenter.note:
        defaults += f"; {augmenter.note}"
    return f"| {augmenter.name} | {augmenter.kind} | {', '.join(augmenter.defaults)} | {defaults} |"


def markdown_table():
    """Every augmenter as a Markdown table, as the package docstring and docs/TRAINING.md show it."""
    rows = ["| name | kind | parameters | defaults |", "|---|---|---|---|"]
    return "\n".join(rows + [_row(a) for a in AUGMENTERS.values()]) + "\n"
