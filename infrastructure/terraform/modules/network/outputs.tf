output "network_id" {
  description = "ID of the private network."
  value       = openstack_networking_network_v2.private.id
}

output "subnet_id" {
  description = "ID of the private subnet, for the machines' ports."
  value       = openstack_networking_subnet_v2.private.id
}

output "external_network_name" {
  description = "Name of the external network, for floating IPs."
  value       = data.openstack_networking_network_v2.external.name
}

output "router_interface_id" {
  description = "ID of the router interface; floating IPs depend on it existing."
  value       = openstack_networking_router_interface_v2.private.id
}
