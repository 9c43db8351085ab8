"""summary() and Jupyter's HTML view: any time, with counts equal to the built model's."""

import re

import numpy as np

import nlayer as nl


def _model():
    model = nl.MLP(hidden=(16, 8), batchnorm=True, dropout=0.1)
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), l2=1e-4, metrics=["accuracy"])
    return model


def _text(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines[0]


def test_summary_before_fit_shows_what_the_layers_decide():
    text = _text(_model())
    assert "input width not known yet" in text
    assert re.search(r"dense_1 \(Dense\)\s+\(None, 16\)\s+\?\s+linear\s+auto", text)
    assert re.search(r"batchnorm_2 \(BatchNorm\)\s+\(None, 8\)\s+32", text)  # width from dense_2
    assert re.search(r"dense_2 \(Dense\)\s+\(None, 8\)\s+128", text)  # 16 x 8, no bias (BN)
    assert "(None, ?)" in text  # the output width comes from the targets at fit
    assert "Params: known once the input width is" in text
    assert "Optimizer: SGD(lr=0.05, momentum=0.9" in text and "L2 (lambda): 0.0001" in text
    assert "Metrics: accuracy" in text


def test_summary_counts_equal_the_built_layers():
    model = _model()
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(40, 5)), np.arange(40) % 3, epochs=1, batch_size=8)
    text = _text(model)
    for layer in model.layers:
        row = next(l for l in text.splitlines() if l.startswith(f"{layer.name} "))
        assert f"{layer.count_params():,}" in row.split(")", 2)[-1]
    assert f"Total params: {model.count_params():,}" in text
    trainable = sum(p.size for p in model.trainable_params)
    assert f"Trainable params: {trainable:,}" in text
    assert "he_normal" in text and "glorot_uniform" in text  # what init="auto" became


def test_a_failed_build_leaves_a_summary():
    model = nl.MLP(hidden=(4,))  # output width unknown: build cannot finish
    try:
        model.build((None, 3))
    except ValueError:
        pass
    assert "(None, ?)" in _text(model) and "Not compiled yet" in _text(model)


def test_repr_html_is_a_table_row_per_layer_with_the_real_counts():
    model = _model()
    model.layers[-1].units = 3
    model.build((None, 5))
    page = model._repr_html_()
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    assert len(rows) == 1 + len(model.layers)  # the header, then one per layer
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows[1:]]
    assert [c[0] for c in cells] == [f"{l.name} ({type(l).__name__})" for l in model.layers]
    assert [int(c[2].replace(",", "")) for c in cells] == [l.count_params() for l in model.layers]
    assert [c[1] for c in cells][-1] == "(None, 3)"
    assert f"Total params: {model.count_params():,}" in page and "Loss: categorical" in page


def test_the_text_repr_stays_short():
    assert repr(_model()) == "Sequential(9 layers, dtype=float32)"
