"""The deployment test kit: what the suites against a deployed topology and the benchmark share.

The topology and where its state lives, SSH as Ansible does it, the HTTPS client with login,
servers started on loopback, waiting with a deadline, and the probes that run on the machines.
Importing the package imports none of them: each environment loads only what it installs.
"""
