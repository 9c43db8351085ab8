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

__all__ = ["Augmentation", "RandomTranslation", "RandomFlip", "RandomRotation", "RandomZoom",
           "ElasticDistortion", "TRANSFORMS", "coerce"]


class Transform:
    """One random image transform (see the module's docstring for its map)."""

    exact = True  # a whole-pixel copy; False: the images are resampled bilinearly
    affine = True  # its map is a matrix (:meth:`matrix`)

    def get_config(self) -> dict[str, Any]:
        return {}

    def draw(self, rng: np.random.Generator, m: int, shape: tuple[int, int]) -> np.ndarray:
        """The random parameters of m images of ``shape``, drawn from ``rng``."""
        raise NotImplementedError

    def matrix(self, drawn: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The map as ``(M, t)`` per image, (m, 2, 2) and (m, 2): an output pixel p
        (y, x) is read at ``c + M (p - c) + t`` in the input, c the image's centre."""
        raise NotImplementedError

    def apply(self, images: np.ndarray, drawn: np.ndarray, fill: float,
              scratch: np.ndarray) -> None:
        """Transform ``images`` (m, H, W) in place by copies (``exact`` transforms)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transform) and type(self) is type(other) and \
            self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


class RandomTranslation(Transform):
    """Move each image by up to ``pixels`` whole pixels in each direction (uniform).

    Parameters
    ----------
    pixels : int, default 2
        k >= 1 (a ValueError otherwise); see :class:`Augmentation` for an example.
    """

    def __init__(self, pixels: int = 2) -> None:
        if isinstance(pixels, bool) or not isinstance(pixels, (int, np.integer)) or pixels < 1:
            raise ValueError(f"RandomTranslation moves images by whole pixels: pixels must "
                             f"be a whole number >= 1, got {pixels!r}")
        self.pixels = int(pixels)

    def get_config(self) -> dict[str, Any]:
        return {"pixels": self.pixels}

    def draw(self, rng: np.random.Generator, m: int, shape: tuple[int, int]) -> np.ndarray:
        return rng.integers(-self.pixels, self.pixels + 1, size=(2, m))

    def apply(self, images: np.ndarray, drawn: np.ndarray, fill: float,
              scratch: np.ndarray) -> None:
        """Shift rows, then columns: 2k+1 slice copies each, over the images drawn alike."""
        h, w = images.shape[1:]
        for axis, shifts in ((1, drawn[0]), (2, drawn[1])):
            np.copyto(scratch, images)
            for d in range(-self.pixels, self.pixels + 1):
                if d == 0:
                    continue
                which = np.flatnonzero(shifts == d)
                if which.size == 0:
                    continue
                n = h if axis == 1 else w
                dst, src = (slice(d, n), slice(0, n - d)) if d > 0 else \
                    (slice(0, n + d), slice(-d, n))
                edge = slice(0, d) if d > 0 else slice(n + d, n)
                if axis == 1:
                    images[which, dst] = scratch[which, src]
                    images[which, edge] = fill
                else:
                    images[which, :, dst] = scratch[which, :, src]
                    images[which, :, edge] = fill

    def matrix(self, drawn: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        return _identity(m), -drawn.T.astype(np.float32)


class RandomFlip(Transform):
    """Mirror each image left to right with probability 1/2 (``"horizontal"``), as
    Keras's ``RandomFlip("horizontal")``: for clothes, not for digits.

    Parameters
    ----------
    mode : {"horizontal"}, the only mode

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X = np.tile(np.array([[1, 2, 3, 4]], dtype=np.float32), (4, 1))   # 2 x 2 images
    >>> nl.Augmentation([nl.RandomFlip()], image_shape=(2, 2))(X, np.random.default_rng(0))
    array([[1., 2., 3., 4.],
           [2., 1., 4., 3.],
           [2., 1., 4., 3.],
           [2., 1., 4., 3.]], dtype=float32)
    """

    def __init__(self, mode: str = "horizontal") -> None:
        if mode != "horizontal":
            raise ValueError(f"RandomFlip supports mode='horizontal' only, got {mode!r}: "
                             "a vertical flip turns most images into something else")
        self.mode = mode  # the one mode there is: nothing to record

    def draw(self, rng: np.random.Generator, m: int, shape: tuple[int, int]) -> np.ndarray:
        return rng.random(m) < 0.5

    def apply(self, images: np.ndarray, drawn: np.ndarray, fill: float,
              scratch: np.ndarray) -> None:
        which = np.flatnonzero(drawn)
        images[which] = images[which, :, ::-1]

    def matrix(self, drawn: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        M = _identity(m)
        M[drawn, 1, 1] = -1  # x - c -> c - x: column W - 1 - x
        return M, np.zeros((m, 2), np.float32)


def _factor(name: str, value: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not 0 < value <= high or not math.isfinite(value):
        raise ValueError(f"{name} must be a number in (0, {high:g}], got {value!r}")
    return float(value)


class _Affine(Transform):
    """Rotation and zoom about the image's centre: resampled."""

    exact = False

    def angles_and_scales(self, rng: np.random.Generator,
                          m: int) -> tuple[np.ndarray, np.ndarray]:
        """(angles in radians, scales) per image."""
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, m: int, shape: tuple[int, int]) -> np.ndarray:
        return np.stack(self.angles_and_scales(rng, m))

    def matrix(self, drawn: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        angle, scale = drawn
        cos, sin = np.cos(angle) / scale, np.sin(angle) / scale  # R(-theta) / s
        M = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)
        return M.astype(np.float32), np.zeros((m, 2), np.float32)


class RandomRotation(_Affine):
    """Turn each image about its centre by an angle drawn uniformly in [-degrees, degrees].

    Parameters
    ----------
    degrees : float, default 10.0
        In (0, 180] (a ValueError otherwise).

    Examples
    --------
    >>> import nlayer as nl
    >>> nl.Augmentation([nl.RandomRotation(15), nl.RandomZoom(0.1)]).transforms
    [RandomRotation(degrees=15.0), RandomZoom(factor=0.1)]
    """

    def __init__(self, degrees: float = 10.0) -> None:
        self.degrees = _factor("RandomRotation's degrees", degrees, 180)

    def get_config(self) -> dict[str, Any]:
        return {"degrees": self.degrees}

    def angles_and_scales(self, rng: np.random.Generator,
                          m: int) -> tuple[np.ndarray, np.ndarray]:
        return np.radians(rng.uniform(-self.degrees, self.degrees, m)), np.ones(m)


class RandomZoom(_Affine):
    """Scale each image about its centre by a factor drawn uniformly in [1 - f, 1 + f].

    Parameters
    ----------
    factor : float, default 0.1
        f, in (0, 0.9] (a ValueError otherwise).
    """

    def __init__(self, factor: float = 0.1) -> None:
        self.factor = _factor("RandomZoom's factor", factor, 0.9)

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor}

    def angles_and_scales(self, rng: np.random.Generator,
                          m: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(m), rng.uniform(1 - self.factor, 1 + self.factor, m)


class ElasticDistortion(Transform):
    """Simard et al.'s elastic distortion: each pixel is read ``alpha * (G * u)`` pixels
    away, u uniform in [-1, 1] per pixel and direction, smoothed by a Gaussian G of
    standard deviation ``sigma`` pixels (Simard: sigma 4, alpha 34 on 28 x 28 digits).
    The field is defined on the output grid (it is smooth: a pixel or two of another
    transform barely changes it).

    Parameters
    ----------
    alpha, sigma : float, default 34.0 and 4.0
        In (0, 1000] and (0, 100] (a ValueError otherwise).
    """

    exact = False

    def __init__(self, alpha: float = 34.0, sigma: float = 4.0) -> None:
        self.alpha = _factor("ElasticDistortion's alpha", alpha, 1000)
        self.sigma = _factor("ElasticDistortion's sigma", sigma, 100)
        self._kernels: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "sigma": self.sigma}

    def _smoothing(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """G as two matrices: (G_h u G_w^T) convolves u with the 2-D Gaussian, its
        weights renormalised at the borders."""
        if shape not in self._kernels:
            mats = []
            for n in shape:
                d = np.arange(n)[:, None] - np.arange(n)[None, :]
                g = np.exp(-0.5 * (d / self.sigma) ** 2)
                mats.append((g / g.sum(axis=1, keepdims=True)).astype(np.float32))
            self._kernels[shape] = (mats[0], mats[1])
        return self._kernels[shape]

    def draw(self, rng: np.random.Generator, m: int, shape: tuple[int, int]) -> np.ndarray:
        """(2, m, H, W): the smoothed displacement (dy, dx) of each pixel, in pixels."""
        g_h, g_w = self._smoothing(shape)
        h, w = shape
        u = rng.random((2 * m * h, w), dtype=np.float32)
        u = (u * 2 - 1) @ g_w.T  # along each row, then (transposed) along each column
        u = u.reshape(2 * m, h, w).transpose(0, 2, 1).reshape(2 * m * w, h) @ g_h.T
        return (self.alpha * u).reshape(2, m, w, h).transpose(0, 1, 3, 2)

    affine = False  # a field, not a matrix: added to where each output pixel is read


#: The transforms by name (CLI, TOML and saved configurations).
TRANSFORMS: dict[str, type[Transform]] = {
    "shift": RandomTranslation, "flip": RandomFlip, "rotate": RandomRotation,
    "zoom": RandomZoom, "elastic": ElasticDistortion}


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
        M, t = _identity(m), np.zeros((m, 2), np.float32)
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
            M, t = _identity(m), np.zeros((m, 2), np.float32)
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
        names = {cls: name for name, cls in TRANSFORMS.items()}
        return {"transforms": [{"name": names[type(t)], **t.get_config()}
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
            values = [v for v in value.split(":")] if value else []
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
        names = {cls: name for name, cls in TRANSFORMS.items()}
        items = []
        for t in self.transforms:
            values = [f"{v:g}" if isinstance(v, float) else str(v)
                      for v in t.get_config().values()]
            items.append(names[type(t)] + ("=" + ":".join(values) if values else ""))
        return ",".join(items)

    def __repr__(self) -> str:
        extra = "" if self.image_shape is None else f", image_shape={self.image_shape}"
        return f"Augmentation({self.transforms!r}{extra})"


def _read_at(M: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """M p + t for each image: p (2, H, W) shared or (2, m, H, W); returns (2, m, H, W),
    relative to the centre."""
    if p.ndim == 3:
        p = p[:, None]
    return (M[:, :, 0].T[:, :, None, None] * p[0] + M[:, :, 1].T[:, :, None, None] * p[1]
            + t.T[:, :, None, None])


def _identity(m: int) -> np.ndarray:
    return np.tile(np.eye(2, dtype=np.float32), (m, 1, 1))


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
