"""The ``tradewire`` command line."""
