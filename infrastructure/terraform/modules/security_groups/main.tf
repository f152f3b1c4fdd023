resource "openstack_networking_secgroup_v2" "role" {
  for_each = toset(local.roles)

  name        = "${var.name_prefix}-${each.key}"
  description = "ollama-qa ${each.key} machines"
}

resource "openstack_networking_secgroup_rule_v2" "cidr" {
  for_each = local.cidr_rules

  security_group_id = openstack_networking_secgroup_v2.role[each.value.group].id
  direction         = "ingress"
  ethertype         = each.value.ethertype
  protocol          = "tcp"
  port_range_min    = each.value.port
  port_range_max    = each.value.port
  remote_ip_prefix  = each.value.remote_ip_prefix
  description       = each.key
}

resource "openstack_networking_secgroup_rule_v2" "group" {
  for_each = local.group_rules

  security_group_id = openstack_networking_secgroup_v2.role[each.value.group].id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = each.value.port
  port_range_max    = each.value.port
  remote_group_id   = openstack_networking_secgroup_v2.role[each.value.from].id
  description       = each.key
}
