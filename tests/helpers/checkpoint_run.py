"""One training run for the checkpoint tests, as a script a test can SIGKILL at any moment.

    python checkpoint_run.py OPTIMIZER CHECKPOINT RESULT

trains the same network on the same data every time, checkpointing after every
batch into CHECKPOINT and resuming from it when it exists; at the end it writes
the final model to RESULT. It prints "ready" once imports are done and a line
after every batch, so that a test can kill it at a chosen point of the run.
"""

import os
import sys

import numpy as np

import nlayer as nl

EPOCHS, BATCH = 8, 25


def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 12)).astype(np.float32)
    y = (X[:, :3] @ rng.normal(size=(3, 3))).argmax(axis=1)
    return X, y


def optimizer(name):
    return {"sgd": lambda: nl.SGD(lr=0.05, momentum=0.9),
            "nesterov": lambda: nl.SGD(lr=0.05, momentum=0.9, nesterov=True),
            "adam": lambda: nl.Adam(lr=0.01),
            "rmsprop": lambda: nl.RMSprop(lr=0.005)}[name]()


def model(name):
    m = nl.Sequential([nl.Dense(24, use_bias=False), nl.BatchNorm(), nl.Activation("relu"),
                       nl.Dropout(0.3), nl.Dense(16, activation="tanh"), nl.Dropout(0.1),
                       nl.Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer(name), l2=1e-3, metrics=["accuracy"], normalize="standard")
    return m


def train(name, checkpoint=None, every_batches=1, callbacks=(), resume=True):
    """The run; with ``checkpoint`` it saves there and resumes from it if it exists."""
    X, y = data()
    m = model(name)
    cbs = [nl.EarlyStopping(patience=3, restore_best_weights=True), *callbacks]
    resume_from = None
    if checkpoint is not None:
        cbs.append(nl.ModelCheckpoint(checkpoint, every_batches=every_batches))
        if resume and os.path.exists(checkpoint):
            resume_from = checkpoint
    m.fit(X, y, epochs=EPOCHS, batch_size=BATCH, validation_split=0.2, seed=3, callbacks=cbs,
          resume_from=resume_from)
    return m


class Progress(nl.Callback):
    def on_batch_end(self, batch, logs=None):
        print("batch", flush=True)


if __name__ == "__main__":
    name, checkpoint, result = sys.argv[1:4]
    print("ready", flush=True)
    train(name, checkpoint, callbacks=[Progress()]).save(result)
