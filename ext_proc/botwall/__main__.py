"""`python -m botwall` is the `botwall` command."""

from botwall.cli import main

main()
