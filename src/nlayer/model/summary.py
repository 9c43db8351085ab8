"""A model's summary: its layers, their output shapes and parameter counts."""

__all__ = ["summary_text"]


def summary_text(model):
    """Layers, output shapes and parameter counts as a table, Keras's ``summary()`` layout."""
    rows = [("Layer (type)", "Output shape", "Params")]
    for layer in model.layers:
        shape = f"(None, {layer.n_out})" if layer.built else "(unbuilt)"
        params = f"{layer.count_params():,}" if layer.built else "?"
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, params))
    widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
    line = "-" * sum(widths)
    out = [f'Model "{model.name}" ({model.dtype.name})', line]
    for j, row in enumerate(rows):
        out.append("".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if j == 0:
            out.append(line)
    if model.built:
        trainable = sum(p.size for p in model.trainable_params)
        out += [line, f"Total params: {model.count_params():,}",
                f"Trainable params: {trainable:,}",
                f"Non-trainable params: {model.count_params() - trainable:,}"]
    else:
        out += [line, "Params: known once the model is built (fit, or build((None, n_features)))"]
    if model.normalizer is not None:
        out.append(f"Input normalisation: {model.normalizer.name}")
    if model.target_scaler is not None:
        out.append("Targets: standardised in training, predictions in original units")
    return "\n".join(out)
