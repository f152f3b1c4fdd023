"""The fault catalogue and its runner: operators' mistakes injected into a live deployment, each
to be caught by a named test (python -m faults, tox -e faults)."""
