"""The standard recall tasks, built in beside LOLAMEME and ListOps (docs/recall.md).

* :mod:`.associative` -- associative recall, safari's generator (task ``associative_recall``);
* :mod:`.mqar` -- multi-query associative recall, Zoology's generator (task ``mqar``);
* :mod:`.induction` -- induction heads, safari's generator (task ``induction_heads``);
* :mod:`.common` -- the symbol alphabet, split filling without overlap, the writer.

Each task module offers ``load_config`` and ``generate`` (see :mod:`lolameme.data.tasks`), so
``lolameme generate --preset mqar-64-4``, ``lolameme train`` and ``lolameme eval`` treat them
like any other task.
"""
