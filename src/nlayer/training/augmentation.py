"""Data augmentation: random transforms of the training images, drawn anew for every batch.

Rows that are flattened images of a known height and width (MNIST's 784 = 28 x 28) can be
moved, mirrored, turned, scaled and warped before each step, so that the network sees a
slightly different image every epoch and learns what does not change with them (a shirt
moved by two pixels is still a shirt). ``fit(augment=...)`` applies an
:class:`Augmentation` to each training batch as it is gathered, on the raw pixels (before
the input normaliser), never to the development rows nor in ``predict``/``evaluate``.

Each transform maps an output pixel (y, x) to where it is read in the input image:

- :class:`RandomTranslation` ``(y - dy, x - dx)``, dy and dx whole pixels in [-k, k];
- :class:`RandomFlip` ``(y, W - 1 - x)`` for half of the images;
- :class:`RandomRotation` and :class:`RandomZoom`: ``c + R(-theta) (p - c) / s`` about the
  image's centre c, theta and s drawn per image;
- :class:`ElasticDistortion` (Simard et al. 2003): ``p + alpha * (G * u)(p)``, u a field of
  uniform random displacements in [-1, 1] smoothed by a Gaussian G of width sigma.

Whole-pixel translations and flips are exact copies (no interpolation; cheap). When a list
holds a rotation, zoom or elastic distortion, the whole list is one map from output to
input coordinates, and each image is resampled once, bilinearly. Pixels that come from
outside the image take ``fill`` (0: the background of MNIST-style images).

The random draws come from fit's own generator for augmentation (seeded from ``seed``),
so a run is reproducible and a checkpoint resumes it to the same bits.
"""

import inspect
import math
from typing import Any

import numpy as np

from .transforms import (TRANSFORMS, ElasticDistortion, RandomFlip, RandomRotation,
                         RandomTranslation, RandomZoom, Transform, identity)

__all__ = ["Augmentation", "RandomTranslation", "RandomFlip", "RandomRotation", "RandomZoom",
           "ElasticDistortion", "TRANSFORMS", "coerce"]


class Augmentation:
    """Random transforms of flattened images, applied in order to each training batch.

    Parameters
    ----------
    transforms : list of transforms
        :class:`RandomTranslation`, :class:`RandomFlip`, :class:`RandomRotation`,
        :class:`RandomZoom`, :class:`ElasticDistortion`, applied in the order given.
    image_shape : (height, width), optional
        How a row is laid out (row-major). Default: square, from the row's width
        (784 -> 28 x 28); rows that are not square images need it.
    fill : float
        The raw value of pixels that come from outside the image (0: a black background).

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> aug = nl.Augmentation([nl.RandomTranslation(1)], image_shape=(3, 3))
    >>> X = np.arange(1, 10, dtype=np.float32).reshape(1, 9)
    >>> moved = aug(X.copy(), np.random.default_rng(3))
    >>> moved.reshape(3, 3)  # one pixel down and one to the left, zeros where it came from
    array([[0., 0., 0.],
           [2., 3., 0.],
           [5., 6., 0.]], dtype=float32)
    """

    def __init__(self, transforms: "list[Transform] | tuple[Transform, ...]",
                 image_shape: "tuple[int, int] | None" = None, fill: float = 0.0) -> None:
        transforms = list(transforms)
        if not transforms or not all(isinstance(t, Transform) for t in transforms):
            raise ValueError("Augmentation takes a non-empty list of transforms (e.g. "
                             "[nl.RandomTranslation(2), nl.RandomFlip()]), got "
                             f"{transforms!r}")
        self.transforms = transforms
        self.image_shape = None if image_shape is None else _shape(image_shape)
        if isinstance(fill, bool) or not isinstance(fill, (int, float)) or \
                not math.isfinite(fill):
            raise ValueError(f"fill must be a finite number, got {fill!r}")
        self.fill = float(fill)
        self.exact = all(t.exact for t in transforms)
        self._scratch: "np.ndarray | None" = None

    def shape_for(self, n_features: int) -> tuple[int, int]:
        """(height, width) of rows of ``n_features``, or the error saying what to give."""
        if self.image_shape is not None:
            h, w = self.image_shape
            if h * w != n_features:
                raise ValueError(f"augmentation: image_shape {self.image_shape} holds {h * w} "
                                 f"pixels but the rows have {n_features} features; give the "
                                 "images' (height, width)")
            return self.image_shape
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(f"augmentation: rows of {n_features} features are not square "
                             "images; give Augmentation(..., image_shape=(height, width))")
        return side, side

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Transform the rows of X (raw pixels, a batch nlayer owns) in place; returns X."""
        shape = self.shape_for(X.shape[1])
        images = X.reshape(X.shape[0], *shape)
        if self.exact:
            if self._scratch is None or self._scratch.shape != images.shape or \
                    self._scratch.dtype != X.dtype:
                self._scratch = np.empty_like(images)
            for t in self.transforms:
                t.apply(images, t.draw(rng, X.shape[0], shape), self.fill, self._scratch)
            return X
        return self._resample(X, images, shape, rng)

    def _resample(self, X: np.ndarray, images: np.ndarray, shape: tuple[int, int],
                  rng: np.random.Generator) -> np.ndarray:
        """One bilinear read per output pixel, at the source the transforms' maps give
        (applied last to first: the output's pixel goes back through each)."""
        m, (h, w) = X.shape[0], shape
        drawn = [t.draw(rng, m, shape) for t in self.transforms]
        # consecutive affine maps compose into one (M, t) per image: c + M (p - c) + t
        M, t = identity(m), np.zeros((m, 2), np.float32)
        centre = np.array([(h - 1) / 2, (w - 1) / 2], np.float32)
        grid = np.stack(np.meshgrid(np.arange(h, dtype=np.float32) - centre[0],
                                    np.arange(w, dtype=np.float32) - centre[1],
                                    indexing="ij"))  # p - c on the output grid, (2, H, W)
        p = None  # where each output pixel is read, once a field made it more than affine
        for transform, d in zip(reversed(self.transforms), reversed(drawn)):
            if transform.affine:
                Mt, tt = transform.matrix(d, m)
                M, t = Mt @ M, (Mt @ t[:, :, None])[:, :, 0] + tt
                continue
            p = _read_at(M, t, grid if p is None else p) + d  # the field, per output pixel
            M, t = identity(m), np.zeros((m, 2), np.float32)
        y, x = _read_at(M, t, grid if p is None else p) + centre[:, None, None, None]
        # a frame of `fill` one pixel wide: reads up to one pixel outside blend into it
        padded = np.full((m, h + 2, w + 2), self.fill, dtype=X.dtype)
        padded[:, 1:-1, 1:-1] = images
        y = np.clip(np.broadcast_to(y, (m, h, w)) + 1, 0, h + 1, dtype=np.float32)
        x = np.clip(np.broadcast_to(x, (m, h, w)) + 1, 0, w + 1, dtype=np.float32)
        # floor (both are >= 0), kept inside the frame: the far edge reads with weight 1
        y0 = np.minimum(y.astype(np.intp), h)
        x0 = np.minimum(x.astype(np.intp), w)
        fy, fx = (y - y0).astype(X.dtype), (x - x0).astype(X.dtype)
        at = y0 * (w + 2) + x0
        at += (np.arange(m) * ((h + 2) * (w + 2)))[:, None, None]
        flat = padded.ravel()
        top = flat.take(at)
        top += (flat.take(at + 1) - top) * fx
        at += w + 2
        bottom = flat.take(at)
        bottom += (flat.take(at + 1) - bottom) * fx
        images[...] = top + (bottom - top) * fy
        return X

    def get_config(self) -> dict[str, Any]:
        """What :meth:`from_config` rebuilds it from (model metadata, checkpoints, CLI)."""
        return {"transforms": [{"name": _NAMES[type(t)], **t.get_config()}
                               for t in self.transforms],
                "image_shape": None if self.image_shape is None else list(self.image_shape),
                "fill": self.fill}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Augmentation":
        transforms = []
        for entry in config["transforms"]:
            entry = dict(entry)
            name = entry.pop("name")
            if name not in TRANSFORMS:
                raise ValueError(f"unknown augmentation {name!r}; one of "
                                 f"{', '.join(TRANSFORMS)}")
            transforms.append(TRANSFORMS[name](**entry))
        shape = config.get("image_shape")
        return cls(transforms, None if shape is None else tuple(shape),
                   config.get("fill", 0.0))

    @classmethod
    def parse(cls, spec: str, image_shape: "tuple[int, int] | None" = None) -> "Augmentation":
        """An augmentation from the command line's text: items separated by commas, each
        a name with its value: ``shift=2`` (pixels), ``flip``, ``rotate=10`` (degrees),
        ``zoom=0.1``, ``elastic`` or ``elastic=34:4`` (alpha:sigma). See :meth:`spec`."""
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError("an augmentation is a list such as 'shift=2,flip', got "
                             f"{spec!r}")
        transforms = []
        for item in spec.split(","):
            name, _, value = (part.strip() for part in item.strip().partition("="))
            if name not in TRANSFORMS:
                raise ValueError(f"unknown augmentation {name!r} in {spec!r}; use "
                                 "shift=PIXELS, flip, rotate=DEGREES, zoom=FRACTION, "
                                 "elastic=ALPHA:SIGMA")
            keys = list(inspect.signature(TRANSFORMS[name]).parameters)
            values = value.split(":") if value else []
            if len(values) > len(keys):
                raise ValueError(f"{name} takes at most {len(keys)} value(s) "
                                 f"({':'.join(keys)}), got {value!r} in {spec!r}")
            try:
                args = [_number(v) if k != "mode" else v for k, v in zip(keys, values)]
            except ValueError:
                raise ValueError(f"{name}={value}: not a number (in {spec!r})") from None
            try:
                transforms.append(TRANSFORMS[name](*args))
            except ValueError as exc:
                raise ValueError(f"{item.strip()}: {exc}") from None
        return cls(transforms, image_shape)

    def spec(self) -> str:
        """The text :meth:`parse` reads back into this augmentation."""
        items = []
        for t in self.transforms:
            values = [f"{v:g}" if isinstance(v, float) else str(v)
                      for v in t.get_config().values()]
            items.append(_NAMES[type(t)] + ("=" + ":".join(values) if values else ""))
        return ",".join(items)

    def __repr__(self) -> str:
        extra = "" if self.image_shape is None else f", image_shape={self.image_shape}"
        return f"Augmentation({self.transforms!r}{extra})"


#: each transform's name in texts and configurations (TRANSFORMS the other way round)
_NAMES = {cls: name for name, cls in TRANSFORMS.items()}


def _read_at(M: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """M p + t for each image: p (2, H, W) shared or (2, m, H, W); returns (2, m, H, W),
    relative to the centre."""
    if p.ndim == 3:
        p = p[:, None]
    return (M[:, :, 0].T[:, :, None, None] * p[0] + M[:, :, 1].T[:, :, None, None] * p[1]
            + t.T[:, :, None, None])


def _number(text: str) -> "int | float":
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _shape(value: Any) -> tuple[int, int]:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
            for v in value):
        raise ValueError(f"image_shape must be (height, width), two whole numbers >= 1, "
                         f"got {value!r}")
    return int(value[0]), int(value[1])


def coerce(augment: Any) -> "Augmentation | None":
    """fit's ``augment``: None, an Augmentation, a transform or a list of transforms."""
    if augment is None or isinstance(augment, Augmentation):
        return augment
    if isinstance(augment, Transform):
        return Augmentation([augment])
    if isinstance(augment, (list, tuple)):
        return Augmentation(augment)
    raise TypeError(f"augment must be an nl.Augmentation, a transform or a list of "
                    f"transforms, got {type(augment).__name__}")
