"""Held-out adversarial evaluation of botwall (see heldout/README.md). Kept outside the package on purpose: nothing
here may feed botwall's training, tuning or tests of its detectors."""
