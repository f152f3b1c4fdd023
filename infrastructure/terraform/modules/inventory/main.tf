# This module creates nothing: it turns the machines an environment created into the Ansible
# inventory both environments share, so that its shape is defined once.
