resource "openstack_compute_keypair_v2" "admin" {
  name       = "${var.name_prefix}-admin"
  public_key = trimspace(file(pathexpand(var.ssh_public_key_file)))
}

# Ports carry the security groups, so that a machine never exists without its rules.
resource "openstack_networking_port_v2" "machine" {
  for_each = local.machines

  name               = each.key
  network_id         = var.network_id
  admin_state_up     = true
  security_group_ids = [var.security_group_ids[each.value]]

  fixed_ip {
    subnet_id = var.subnet_id
  }
}

resource "openstack_compute_instance_v2" "machine" {
  for_each = local.machines

  name        = each.key
  image_name  = var.image_name
  flavor_name = var.flavors[each.value]
  key_pair    = openstack_compute_keypair_v2.admin.name

  metadata = {
    role = each.value
  }

  network {
    port = openstack_networking_port_v2.machine[each.key].id
  }
}

resource "openstack_networking_floatingip_v2" "lb" {
  pool        = var.external_network_name
  description = "${var.name_prefix} public address"
}

resource "openstack_networking_floatingip_associate_v2" "lb" {
  floating_ip = openstack_networking_floatingip_v2.lb.address
  port_id     = openstack_networking_port_v2.machine["${var.name_prefix}-lb"].id

  depends_on = [var.router_interface_id]
}
