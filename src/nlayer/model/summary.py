"""A model's summary: its layers, their output shapes, parameter counts, activations and
initialisers, then its compile settings; as text (``summary()``) or HTML (Jupyter's view).

Sizes come from the layers' declared shapes (:func:`nlayer.training.memory.sizes`), not
from their arrays, so a summary works before ``build``: every count the input width does
not decide is shown, the rest once it is known.
"""

import html

from .. import layers as layers_mod
from ..training import memory

__all__ = ["summary_rows", "summary_text", "summary_html"]

HEADER = ("Layer (type)", "Output shape", "Params", "Activation", "Init")


def summary_rows(model):
    """(HEADER, a row of strings per layer, the lines below the table)."""
    sizes = memory.sizes(model.layers, model.n_features)
    rows = [(f"{s.layer.name} ({type(s.layer).__name__})",
             f"(None, {'?' if s.n_out is None else s.n_out})",
             "?" if s.params is None else f"{s.params:,}", _activation(s.layer), _init(s.layer))
            for s in sizes]
    return HEADER, rows, _totals(sizes) + _settings(model)


def _activation(layer):
    activation = getattr(layer, "activation", None)
    return activation.name if activation is not None else ""


def _init(layer):
    if not isinstance(layer, layers_mod.Dense):
        return ""
    if layer.initializer is not None:  # what "auto" became at build
        return layer.initializer.name
    return layer.init if isinstance(layer.init, str) else type(layer.init).__name__


def _totals(sizes):
    if any(s.params is None for s in sizes):
        return ["Params: known once the input width is (fit, or build((None, n_features)))"]
    total, trainable = sum(s.params for s in sizes), sum(s.trainable for s in sizes)
    return [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}"]


def _settings(model):
    lines = []
    if model.compiled:
        lines += [f"Optimizer: {model.optimizer!r}", f"Loss: {model.loss.name}",
                  f"L2 (lambda): {model.l2:g}"]
        if model.metrics:
            lines.append(f"Metrics: {', '.join(m.name for m in model.metrics)}")
    else:
        lines.append("Not compiled yet: call compile(optimizer=..., loss=...)")
    if model.normalizer is not None:
        lines.append(f"Input normalisation: {model.normalizer.name}")
    if model.target_scaler is not None:
        lines.append("Targets: standardised in training, predictions in original units")
    return lines


def _title(model):
    width = f"{model.n_features} features" if model.built else "input width not known yet"
    return f'Model "{model.name}" ({model.dtype.name}, {width})'


def summary_text(model):
    """The summary as a text table, Keras's ``summary()`` layout."""
    header, rows, notes = summary_rows(model)
    table = [header, *rows]
    widths = [max(len(r[c]) for r in table) + 2 for c in range(len(header))]
    line = "-" * sum(widths)
    out = [_title(model), line]
    for j, row in enumerate(table):
        out.append("".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if j == 0:
            out.append(line)
    return "\n".join(out + [line] + notes)


def summary_html(model):
    """The summary as an HTML table (``Sequential._repr_html_``: Jupyter shows it)."""
    header, rows, notes = summary_rows(model)
    esc = html.escape
    head = "".join(f"<th style='text-align:left'>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{esc(c)}</td>" for c in row)
                   + "</tr>" for row in rows)
    return (f"<div><b>{esc(_title(model))}</b><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table><p>{'<br>'.join(esc(n) for n in notes)}</p></div>")
