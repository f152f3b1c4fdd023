locals {
  # The ports the security groups admit, as the Ansible site opens them; the tests check the
  # inventory groups against its group names.
  topology = yamldecode(file("${path.module}/../../../topology.yml")).topology

  # Only the load balancer has a public address: Ansible reaches the others through it.
  jump = "-o ProxyCommand=\"ssh -W %h:%p -q -i ${pathexpand(var.ssh_private_key_file)} -o StrictHostKeyChecking=accept-new debian@${module.compute.lb.public_address}\""
}
