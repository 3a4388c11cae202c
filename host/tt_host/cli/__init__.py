"""The ``tt-host`` command line (:mod:`.app`) and its rich output (:mod:`.render`)."""
