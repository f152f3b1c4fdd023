"""The local lifecycle of the project: bootstrap, up, converge, test, down, access, serve.

Standard library only: the system's python3 runs it on a fresh machine, before any virtualenv
exists. `python3 -m lifecycle --help` lists the commands.
"""
