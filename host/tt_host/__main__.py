"""``python -m tt_host``: the same as the ``tt-host`` command."""

from tt_host.cli.app import main

main()
