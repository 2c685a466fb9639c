"""Checks on the normalized parameters builders receive: a range is a (low, high) float pair."""
import math


def check(name, rng, low=-math.inf, high=math.inf):
    """Raise ValueError unless the (low, high) range ``rng`` of parameter ``name`` lies in [low, high]."""
    if rng is not None and not (low <= rng[0] and rng[1] <= high):
        raise ValueError(f"{name}={show(rng)} must lie within [{low}, {high}]")


def fixed(name, rng):
    """The single value of parameter ``name``; ValueError for a (low, high) range."""
    if rng[0] != rng[1]:
        raise ValueError(f"{name}={show(rng)} must be a single number, not a range")
    return rng[0]


def show(rng):
    """A normalized range as the user would write it: a number or a (low, high) pair."""
    return f"{rng[0]:g}" if rng[0] == rng[1] else f"({rng[0]:g}, {rng[1]:g})"


def px(rng):
    """A range on imgaug's 0..255 pixel scale -> the [0, 1] scale used here."""
    return rng[0] / 255.0, rng[1] / 255.0
