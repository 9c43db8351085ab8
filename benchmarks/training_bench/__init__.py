"""The parts of the training benchmark; ``benchmarks/bench_training.py`` runs them.

- ``settings``: hyperparameters, run sizes, cases, systems and tolerances;
- ``machine``: the machine's description, load average and state probe;
- ``data``: Fashion-MNIST or random data, written by the parent and read by the workers;
- ``workers``: the GEMM floor, nlayer, the paired ratios and the memory of fit;
- ``peers``: PyTorch, scikit-learn and Keras;
- ``results``: best rounds, quiet pairs, scaling and the targets;
- ``report``: ``results.md`` and ``epoch_times.png``.
"""
