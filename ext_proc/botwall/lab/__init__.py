"""The lab: everything around the runtime that is not on a request's path. The traffic simulator, model training
and evaluation, the demo shop, the local stack behind `botwall up`, the pass-through processor the benchmarks
compare with, and the test helpers (`lab.testing`).

May import anything in the runtime; the runtime never imports the lab (import-linter checks it). It ships in the
wheel for `botwall up`, `botwall simulate`, `train` and `eval` (training needs the `[train]` extras), and is
removed from the runtime container image.
"""
