"""Programs that run ON the machines, sent over SSH as ``python3 -c <file text> ARGS``.

Each is one self-contained file of standard library only (the machines have python3 for Ansible
and nothing else is guaranteed), with a ``main(argv)`` that the unit tests call directly.
``deploykit.ssh.probe_source(name)`` returns the text that is sent.
"""
