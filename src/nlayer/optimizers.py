"""Optimisers: each owns its state and updates parameters in place from their gradients.

``step(params, grads)`` takes two lists of arrays in the same order; ``grads``
already contains the L2 term ``(lambda/m) W``, so the method's L2 is part of g.
A step consumes the gradients (it may scale them in place).

Gradient scale: every pass of back propagation is linear in the gradient it
starts from, so the model can start it from ``s dJ/dZ`` and get ``s g`` for
every parameter at no cost. An optimiser names the ``s`` it prefers in
``gradient_scale`` and ``step(..., scale=s)`` is told what the gradients carry.
SGD prefers its learning rate: ``lr g`` then arrives ready-made, which saves one
pass over every weight per step (the update is memory-bound, so that pass is a
quarter of its time).

Learning-rate schedules: ``lr`` may be a :mod:`~nlayer.schedules` schedule; the
optimiser then keeps ``lr`` the rate of its next update and sets it from the
schedule after every step (``lr = schedule(iterations)``).

Weight decay and the method's L2: the cost's ``lambda/(2m) sum ||W||^2`` adds
``(lambda/m) W`` to dW, with m the rows of the batch, and only to kernels (W).
``weight_decay=wd`` adds ``wd * p`` to the gradient of every parameter
(kernels, biases, batch-norm gamma/beta), whatever the batch size: for one
batch size m the two agree on kernels when ``wd = lambda / m``. Coupled decay
(SGD, Adam, RMSprop: added to g before momentum or moments) is PyTorch's
``weight_decay=`` of the same optimiser. Decoupled decay (:class:`AdamW`:
``p <- p (1 - lr wd)`` beside the Adam step) is PyTorch's ``AdamW`` and Keras 3's
``weight_decay=`` of any optimiser (Keras decouples it everywhere; for plain SGD
without momentum coupled and decoupled are the same update). Keras's
``kernel_regularizer=L2(c)`` is the method's L2 with ``c = lambda / (2m)``.
"""

import math
import numbers

import numpy as np

from . import schedules
from ._fastpaths import zeros_on_huge_pages
from ._registry import build

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "get", "NAMES"]


def check_number(owner, name, value, low=0.0, high=math.inf, low_open=False, high_open=True):
    """``float(value)``, or a TypeError/ValueError naming the parameter, value and range."""
    return schedules._number(owner, name, value, low, high, low_open, high_open)


class Optimizer:
    """Base class: learning rate ``lr`` (a number or a schedule), ``weight_decay`` and
    per-parameter state made on first use."""

    name = "optimizer"

    def __init__(self, lr, weight_decay=0.0):
        owner = type(self).__name__
        self.schedule = None
        if isinstance(lr, dict):
            lr = schedules.get(lr)
        if isinstance(lr, schedules.Schedule):
            self.schedule, lr = lr, lr.initial_lr
        elif isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"{owner} lr (learning rate) must be a positive number or a schedule from "
                            f"nl.schedules, got {lr!r} ({type(lr).__name__})")
        self.lr = check_number(owner, "lr (learning rate)", lr, low_open=True)
        self.weight_decay = check_number(owner, "weight_decay", weight_decay)
        self.iterations = 0
        self.state = {}  # slot number -> that parameter's arrays (velocity, moments)
        if self.schedule is not None and self.schedule.initial_momentum is not None and \
                not isinstance(self, SGD):
            raise ValueError(f"{owner} cannot cycle momentum; use SGD with the schedule's "
                             "momentum_range, or give the schedule momentum_range=None")

    @property
    def gradient_scale(self):
        """The factor ``s`` this optimiser would like its gradients to arrive multiplied by."""
        return 1.0

    def step(self, params, grads, scale=1.0):
        """Update every parameter in place from its gradient (slot i's state follows params[i]).

        ``grads[i]`` holds ``scale`` times the gradient of ``params[i]``.
        """
        scale = float(scale)
        if not scale > 0 or not math.isfinite(scale):  # math: np.isfinite costs 0.5 us a step
            raise ValueError(f"gradient scale must be a positive number, got {scale}")
        self.iterations += 1
        for slot, (p, g) in enumerate(zip(params, grads)):
            state = self.state.get(slot)
            if state is None:
                state = self.state[slot] = self._init_state(p)
            if scale != self.gradient_scale:  # bring g to the scale _update expects
                g *= p.dtype.type(self.gradient_scale / scale)
            self._update(p, g, state)
        if self.schedule is not None:
            self._follow_schedule()

    def _follow_schedule(self):
        """Set lr (and a cycled momentum) for the next update from the schedule."""
        self.lr = self.schedule(self.iterations)
        momentum = self.schedule.momentum(self.iterations)
        if momentum is not None:
            self.momentum = momentum

    def begin_training(self, steps_per_epoch, epochs):
        """Hook called by ``fit`` before the first batch: tells a schedule the run's length."""
        if self.schedule is not None:
            self.schedule.bind(steps_per_epoch, epochs)
            self._follow_schedule()

    def _init_state(self, p):
        return {}

    @staticmethod
    def _zeros_like(p):
        """State array for p (on huge pages when large: every step sweeps it)."""
        return zeros_on_huge_pages(p.size, p.dtype).reshape(p.shape)

    def _update(self, p, g, s):
        """One update of p from ``g = gradient_scale * dJ/dp`` (g may be overwritten)."""
        raise NotImplementedError

    def reset(self):
        """Forget every slot's state and start the schedule (if any) again."""
        self.state, self.iterations = {}, 0
        if self.schedule is not None:
            self.lr = self.schedule.initial_lr
            if self.schedule.initial_momentum is not None:
                self.momentum = self.schedule.initial_momentum

    # -- state for checkpoints (plain arrays, no pickling) ----------------------
    def get_state(self):
        """Copies of the iteration count, learning rate and every slot's arrays (and, with
        a schedule, the run length ``fit`` told it, under ``"schedule"``)."""
        slots = {i: {k: v.copy() for k, v in s.items()} for i, s in self.state.items()}
        state = {"iterations": self.iterations, "lr": self.lr, "slots": slots}
        if self.schedule is not None:
            state["schedule"] = self.schedule.get_state()
        return state

    def set_state(self, state):
        self.iterations, self.lr = int(state["iterations"]), float(state["lr"])
        self.state = {int(i): {k: self._copy(v) for k, v in s.items()}
                      for i, s in state["slots"].items()}
        if self.schedule is not None:  # the position is the iteration count
            self.schedule.set_state(state.get("schedule") or {})
            try:
                self._follow_schedule()
            except ValueError:  # not bound yet: fit's begin_training sets lr
                pass

    @classmethod
    def _copy(cls, a):
        a = np.asarray(a)
        out = cls._zeros_like(a)
        out[...] = a
        return out

    def get_config(self):
        config = {"name": self.name, "lr": self._lr_config()}
        if self.weight_decay:
            config["weight_decay"] = self.weight_decay
        return config

    def _lr_config(self):
        return self.schedule.get_config() if self.schedule is not None else self.lr

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Mini-batch gradient descent with (Nesterov) momentum, PyTorch/Keras form::

        v <- mu v - lr g
        w <- w + v                     (nesterov: w <- w + mu v - lr g)

    The article's moving-average form ``v <- beta v + (1 - beta) g; w <- w - alpha v``
    is the same update with ``mu = beta`` and ``lr = alpha (1 - beta)``: its v is this
    v scaled by ``-1 / (alpha (1 - beta))``. With ``momentum=0`` it is plain SGD.
    ``weight_decay`` is coupled, ``g <- g + wd w`` (PyTorch ``SGD(weight_decay=)``).
    """

    name = "sgd"

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if self.schedule is not None and self.schedule.initial_momentum is not None:
            momentum = self.schedule.initial_momentum  # the schedule cycles it
        self.momentum = check_number("SGD", "momentum", momentum, 0, 1)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"SGD nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("SGD nesterov=True needs momentum > 0 (e.g. momentum=0.9)")
        self.nesterov = bool(nesterov)

    @property
    def gradient_scale(self):
        return self.lr  # g arrives as lr * dJ/dp

    def _init_state(self, p):
        return {"velocity": self._zeros_like(p)} if self.momentum else {}

    def _update(self, p, g, s):
        # g is lr * dJ/dp here (see gradient_scale)
        if self.weight_decay:
            g += p.dtype.type(self.lr * self.weight_decay) * p
        if not self.momentum:
            p -= g
            return
        v, mu = s["velocity"], p.dtype.type(self.momentum)
        v *= mu
        v -= g
        if self.nesterov:
            p += mu * v
            p -= g
        else:
            p += v

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba)::

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
        w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    ``weight_decay`` is coupled, ``g <- g + wd w`` before the moments (PyTorch
    ``Adam(weight_decay=)``); for decoupled decay use :class:`AdamW`.
    """

    name = "adam"
    decoupled = False

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        owner = type(self).__name__
        self.beta_1 = check_number(owner, "beta_1", beta_1, 0, 1)
        self.beta_2 = check_number(owner, "beta_2", beta_2, 0, 1)
        self.epsilon = check_number(owner, "epsilon", epsilon, low_open=True)

    def _init_state(self, p):
        return {"m": self._zeros_like(p), "v": self._zeros_like(p)}

    def _update(self, p, g, s):
        t, b1, b2 = self.iterations, self.beta_1, self.beta_2
        dt = p.dtype.type
        if self.weight_decay:
            if self.decoupled:
                p *= dt(1 - self.lr * self.weight_decay)
            else:
                g += dt(self.weight_decay) * p
        # in place, g as the only scratch: a temporary of a large p costs page faults
        m, v = s["m"], s["v"]
        m -= g                                  # m <- b1 m + (1 - b1) g, as b1 (m - g) + g
        m *= dt(b1)
        m += g
        g *= g                                  # g <- g^2
        g *= dt(1 - b2)
        v *= dt(b2)
        v += g
        # lr m_hat / (sqrt(v_hat) + eps) = lr_t m / (sqrt(v) + eps_t), with
        # c = sqrt(1 - b2^t), lr_t = lr c / (1 - b1^t), eps_t = eps c (one pass fewer)
        c = math.sqrt(1 - b2**t)
        np.sqrt(v, out=g)
        g += dt(self.epsilon * c)
        np.divide(m, g, out=g)
        g *= dt(self.lr * c / (1 - b1**t))
        p -= g

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's ``AdamW``::

        w <- w (1 - lr wd),   then the Adam update of w

    The decay does not pass through the moments, so it is not scaled down where
    gradients are large. Default ``weight_decay=0.01`` as PyTorch.
    """

    name = "adamw"
    decoupled = True

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.01):
        super().__init__(lr, beta_1, beta_2, epsilon, weight_decay)

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """RMSprop::

        s <- rho s + (1 - rho) g^2
        w <- w - lr g / (sqrt(s) + eps)

    ``weight_decay`` is coupled, ``g <- g + wd w`` (PyTorch ``RMSprop(weight_decay=)``).
    """

    name = "rmsprop"

    def __init__(self, lr=0.001, rho=0.9, epsilon=1e-7, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.rho = check_number("RMSprop", "rho", rho, 0, 1)
        self.epsilon = check_number("RMSprop", "epsilon", epsilon, low_open=True)

    def _init_state(self, p):
        return {"s": self._zeros_like(p)}

    def _update(self, p, g, s):
        dt = p.dtype.type
        if self.weight_decay:
            g += dt(self.weight_decay) * p
        sq = s["s"]
        sq *= dt(self.rho)
        sq += dt(1 - self.rho) * (g * g)
        denom = np.sqrt(sq)
        denom += dt(self.epsilon)
        p -= dt(self.lr) * g / denom

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


_REGISTRY = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adamw": AdamW}
NAMES = tuple(_REGISTRY)


def get(spec):
    """Return an :class:`Optimizer` from a name, a config dict or an instance."""
    return build(spec, Optimizer, _REGISTRY, "optimizer")


def from_settings(name, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """The optimiser called ``name`` with learning rate ``lr`` (a number or a schedule) and
    ``weight_decay`` (0: the optimiser's default); momentum and nesterov are SGD's (the flat settings of the command line
    and the scikit-learn estimators)."""
    spec = {"name": name, "lr": lr}
    if weight_decay:  # 0 keeps the optimiser's default (AdamW: 0.01)
        spec["weight_decay"] = weight_decay
    if str(name).lower() == "sgd":
        spec.update(momentum=momentum, nesterov=nesterov)
    return get(spec)
