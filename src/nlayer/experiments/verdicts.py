"""Verdicts computed from measured numbers, never written by hand.

A claim is tested once per seed by a pure predicate that returns True (holds in
that run), False (does not hold) or None (that run cannot decide, e.g. it
diverged where the claim needs a finished run). :func:`across_seeds` turns the
per-seed outcomes into the verdict a report states.
"""

from dataclasses import dataclass, field

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
MIN_SEEDS = 3


def across_seeds(outcomes):
    """(verdict, reason) from per-seed outcomes (True / False / None)."""
    outcomes = list(outcomes)
    n = len(outcomes)
    yes, no = outcomes.count(True), outcomes.count(False)
    if n < MIN_SEEDS:
        return INCONCLUSIVE, f"only {n} seed(s) run; a verdict needs {MIN_SEEDS}"
    if yes == n:
        return HOLDS, f"holds in all {n} seeds"
    if no == n:
        return FAILS, f"fails in all {n} seeds"
    undecided = n - yes - no
    extra = f", undecided in {undecided} (a run could not decide)" if undecided else ""
    return INCONCLUSIVE, f"holds in {yes} of {n} seeds, fails in {no}{extra}"


@dataclass
class Claim:
    """One claim, what was measured for it per seed, and its computed verdict."""

    text: str
    measure: str                  # how the predicate reads the numbers
    outcomes: list = field(default_factory=list)
    evidence: list = field(default_factory=list)  # one short string per seed

    def add(self, outcome, evidence):
        self.outcomes.append(outcome)
        self.evidence.append(evidence)

    @property
    def verdict(self):
        return across_seeds(self.outcomes)[0]

    @property
    def reason(self):
        return across_seeds(self.outcomes)[1]

    def to_dict(self):
        return {"claim": self.text, "measure": self.measure, "verdict": self.verdict,
                "reason": self.reason, "outcomes": self.outcomes, "evidence": self.evidence}


def within(ratio, factor):
    """True when ratio lies in [1/factor, factor] (a finite, positive ratio)."""
    return ratio is not None and 0 < ratio < float("inf") and 1 / factor <= ratio <= factor


def epochs_to(values, target, higher_is_better=True):
    """The first epoch (1-based) whose value reaches ``target``, or None."""
    for epoch, value in enumerate(values, start=1):
        if value is not None and (value >= target if higher_is_better else value <= target):
            return epoch
    return None


def patience_stop(values, patience):
    """(best epoch, epoch early stopping with ``patience`` stops at or None) for a val_loss curve."""
    best, best_epoch, wait = None, None, 0
    for epoch, value in enumerate(values, start=1):
        if best is None or value < best:
            best, best_epoch, wait = value, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, None
