"""``python -m tt_host``: the same as the ``tt-host`` command."""

from .cli import main

main()
