output "lb" {
  description = "The load balancer: name, private address and public (floating) address."
  value = {
    name            = "${var.name_prefix}-lb"
    private_address = openstack_networking_port_v2.machine["${var.name_prefix}-lb"].all_fixed_ips[0]
    public_address  = openstack_networking_floatingip_v2.lb.address
  }
}

output "web" {
  description = "The web machines in order: name and private address."
  value = [for name in local.web_names : {
    name            = name
    private_address = openstack_networking_port_v2.machine[name].all_fixed_ips[0]
  }]
}

output "llm" {
  description = "The LLM machines in order: name and private address."
  value = [for name in local.llm_names : {
    name            = name
    private_address = openstack_networking_port_v2.machine[name].all_fixed_ips[0]
  }]
}

output "db" {
  description = "The database machine: name and private address."
  value = {
    name            = local.db_name
    private_address = openstack_networking_port_v2.machine[local.db_name].all_fixed_ips[0]
  }
}

output "roles" {
  description = "Role of every machine, keyed by name (lb, web, llm or db)."
  value       = local.machines
}
