"""Streaming benchmark of the deployed chain against the simulator alone (``python -m bench``)."""
