"""Functions that shared-computation workers can run (``tradewire worker --trust
tradewire.jobs``); see docs/jobs.md."""
