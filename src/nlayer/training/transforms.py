"""The random image transforms of :mod:`nlayer.training.augmentation`, one class each.

Each maps an output pixel p = (y, x) to where it is read in the input image. The affine ones
(translation, flip, rotation, zoom) give that map as a 2x2 matrix M and a shift t per image,
``c + M (p - c) + t`` about the image's centre c (:meth:`Transform.matrix`), so that a list
of them composes into one map; whole-pixel moves and flips can also copy pixels directly
(:meth:`Transform.apply`). The elastic distortion is a smooth field of displacements.
"""

import math
from typing import Any

import numpy as np

__all__ = ["Transform", "RandomTranslation", "RandomFlip", "RandomRotation", "RandomZoom",
           "ElasticDistortion", "TRANSFORMS", "identity"]


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
        k >= 1 (a ValueError otherwise).

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> dy, dx = nl.RandomTranslation(2).draw(np.random.default_rng(0), 5, (28, 28))
    >>> bool(np.abs(dy).max() <= 2 and np.abs(dx).max() <= 2)   # whole pixels, per image
    True
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
        return identity(m), -drawn.T.astype(np.float32)


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
        M = identity(m)
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

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> angles, scales = nl.RandomZoom(0.2).draw(np.random.default_rng(0), 1000, (28, 28))
    >>> bool(np.all(angles == 0) and 0.8 <= scales.min() and scales.max() <= 1.2)
    True
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

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> field = nl.ElasticDistortion(34, 4).draw(np.random.default_rng(0), 2, (28, 28))
    >>> field.shape, bool(np.abs(np.diff(field, axis=3)).max() < 1)   # (dy, dx), smooth
    ((2, 2, 28, 28), True)
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


def identity(m: int) -> np.ndarray:
    return np.tile(np.eye(2, dtype=np.float32), (m, 1, 1))
