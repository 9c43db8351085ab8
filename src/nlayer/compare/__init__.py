"""Train the same network side by side in nlayer, Keras, PyTorch and scikit-learn.

Every peer gets, as far as its library allows, *exactly* the same experiment:

- the same initial weights: nlayer builds and initialises the model, and the
  arrays of ``model.get_weights()`` (Keras order: Dense kernel, bias; BatchNorm
  gamma, beta, moving mean, moving variance) are loaded into each peer
  (PyTorch ``nn.Linear`` stores the kernel transposed; scikit-learn takes
  ``coefs_`` / ``intercepts_``);
- the same mini-batches: epoch e visits the rows ``batch_orders(seed, n, epochs)[e]``
  in consecutive chunks of ``batch_size``, the last partial chunk included;
- the same optimiser, SGD with (Nesterov) momentum. nlayer and Keras write it
  ``v <- mu v - lr g; w <- w + v``, PyTorch ``b <- mu b + g; w <- w - lr b``:
  the same update with ``v = -lr b`` as long as lr is constant (it is here);
- the same cost per batch of m rows, ``J = mean loss + lambda / (2m) sum ||W||^2``
  over the kernels, with m the size of *that* batch (the last one may be
  smaller). nlayer does it natively, PyTorch and Keras add the term to their
  loss (in Keras through a loss function that reads the kernels, so it also
  sees the current m; a ``kernel_regularizer`` could only use the nominal
  batch size), scikit-learn's ``alpha`` is exactly this penalty;
- the same early stopping rule: stop after ``patience`` epochs in which
  ``val_loss`` did not fall below the best value by more than ``min_delta``,
  then go back to the weights of the best epoch. nlayer uses its own
  :class:`~nlayer.EarlyStopping` inside ``fit``; the other peers run in this
  package's epoch loop, which applies the same rule.

Numbers that are compared are computed in one place: validation and test
loss, accuracy, MSE and R^2 come from :func:`scores`, in float64, from each
peer's predictions (probabilities, clipped at 1e-7 before the log, or values)
and its kernels, so differences between peers reflect training, not
bookkeeping. The loss includes the L2 term with m = the number of rows scored,
as nlayer's ``evaluate`` does. nlayer's EarlyStopping watches this shared
validation loss too (an extra log key filled in by a callback), not the
logit-based one of nlayer's ``fit``: the two differ once a probability falls
below 1e-7, and the stopping decisions must not. Training ``loss`` and
``accuracy`` are each library's running means over the epoch's batches, as
Keras reports them (cross-entropy from the logits in all four).

Keras runs with ``floatx`` set to the spec's dtype (restored afterwards) and
``keras.utils.set_random_seed(seed)``, which also seeds Python's and NumPy's
global generators.

What cannot agree, and why:

- dropout masks come from each library's own random generator, so runs with
  dropout agree only in distribution;
- PyTorch's ``BatchNorm1d`` updates ``running_var`` with the unbiased batch
  variance (factor m / (m - 1)); nlayer and Keras use the biased one. Training
  is unaffected (batch statistics are used), inference differs slightly;
- scikit-learn has no batch norm, no dropout and no leaky ReLU, and for two
  classes uses a single logistic output: those runs are skipped with a note;
- for regression scikit-learn minimises ``0.5 * MSE`` and, with k outputs, its
  gradient is k times the gradient of its own loss; the learning rate and
  ``alpha`` given to it are rescaled (``2 lr / k`` and ``lambda k / 2``) so
  that its updates are exactly nlayer's.

Keras, PyTorch and scikit-learn are imported only when their run starts; none
of them is a dependency of nlayer's core (``pip install "nlayer[compare]"``).

Modules: ``spec`` (the experiment and its results), ``scoring`` (every number
that is compared), ``availability`` (which peers can run), ``runner``
(:func:`run_comparison`), ``epoch_loop`` (what the peers' training runs share)
and one ``<library>_peer`` module per peer.
"""

from .availability import available_peers
from .keras_peer import build_keras_model
from .nlayer_peer import build_model
from .runner import run_comparison
from .scoring import data_loss, l2_term, rel_errors, scores, weight_names
from .spec import ACTIVATIONS, OUTPUTS, PEERS, ComparisonSpec, PeerResult
from .torch_peer import build_torch_model, torch_get_weights, torch_set_weights

__all__ = [
    "PEERS", "ComparisonSpec", "PeerResult", "available_peers", "run_comparison",
    "build_model", "build_keras_model", "build_torch_model", "torch_get_weights",
    "torch_set_weights", "weight_names", "rel_errors", "scores",
]
