"""The scikit-learn estimators in a GridSearchCV spread over a LocalCluster by joblib's dask backend."""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")
model_selection = pytest.importorskip("sklearn.model_selection")

from nlayer.sklearn import NLayerClassifier  # noqa: E402


def test_grid_search_on_dask_equals_the_search_in_this_process(dask_client, digits):
    X, y = digits[0][:600], digits[1][:600]
    grid = {"learning_rate": [0.02, 0.1], "l2": [0.0, 1e-2]}

    def search():
        estimator = NLayerClassifier(hidden_layer_sizes=(16,), max_epochs=5, batch_size=64,
                                     random_state=0)
        return model_selection.GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, y)

    with joblib.parallel_backend("sequential"):
        here = search()
    with joblib.parallel_backend("dask"), distributed.get_task_stream(dask_client) as stream:
        there = search()
    scores = there.cv_results_["mean_test_score"]
    np.testing.assert_array_equal(scores, here.cv_results_["mean_test_score"])
    assert there.best_params_ == here.best_params_
    assert scores.max() > 0.8 and len(scores) == 4
    # the fits ran as tasks on the cluster's workers
    assert stream.data
    assert {t["worker"] for t in stream.data} <= set(dask_client.scheduler_info()["workers"])
