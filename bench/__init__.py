"""Streaming benchmark of the deployed chain against the simulator alone, with a real model's rows
(``python -m bench``)."""
