"""Training runs as ``nlayer train`` and every sweep trial make them: settings in, a run
directory out. The command line (:mod:`nlayer.cli`) and the sweeps (:mod:`nlayer.sweep`)
both drive these; neither imports the other's internals.

- ``config``: the settings (built-in defaults per dataset < a TOML file < explicit flags);
- ``data``: the data a run trains on, and how a model records it;
- ``train``: the MLP the settings describe, ``fit`` with the run's callbacks, the test
  score and the run directory;
- ``rundir``: choosing a run directory safely; config, history and summary files;
- ``summary``, ``monitoring``, ``plots``: summary.json, the monitor's files, the figures;
- ``interrupt``: Ctrl-C stops after the current batch and keeps the run;
- ``errors``: :class:`~nlayer.runs.errors.UserError`, a problem the user fixes.

Modules are imported one by one (matplotlib loads only with ``plots``).
"""
