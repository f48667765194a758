"""Demo upstream apps that botwall protects in `make run` and in tests."""
