# The firewall promises of the OpenStack topology, asserted on the rules the module would create.

mock_provider "openstack" {}

# The deployment's own ports (topology.yml). ollama_port is no input of the module: the
# assertions use it to prove that no rule admits Ollama.
variables {
  name_prefix = "qa"
  admin_cidrs = ["203.0.113.7/32", "2001:db8::/64"]
  ports       = yamldecode(file("../../../topology.yml")).topology.ports
  ollama_port = yamldecode(file("../../../topology.yml")).topology.ports.ollama
}

run "only_the_load_balancer_faces_the_world" {
  assert {
    condition = alltrue([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) :
      rule.security_group_id == openstack_networking_secgroup_v2.role["lb"].id && contains([var.ports.http, var.ports.https], rule.port_range_min) && rule.port_range_min == rule.port_range_max
      if contains(["0.0.0.0/0", "::/0"], rule.remote_ip_prefix)
    ])
    error_message = "Only HTTP and HTTPS on the load balancer may be open to 0.0.0.0/0 or ::/0."
  }

  assert {
    condition = length([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) : rule
      if rule.remote_ip_prefix == "0.0.0.0/0"
    ]) == 2
    error_message = "The load balancer must serve HTTP and HTTPS to anyone over IPv4."
  }

  assert {
    condition = alltrue([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) : endswith(rule.remote_ip_prefix, "/0") == false
      if rule.port_range_min == var.ports.ssh
    ])
    error_message = "SSH must never be open to a /0."
  }
}

run "ssh_only_from_admin_networks" {
  assert {
    condition = alltrue([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) : contains(var.admin_cidrs, rule.remote_ip_prefix)
      if rule.port_range_min <= var.ports.ssh && rule.port_range_max >= var.ports.ssh
    ])
    error_message = "SSH may only be reached from admin_cidrs."
  }

  assert {
    condition = length([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) : rule if rule.port_range_min == var.ports.ssh
    ]) == 4 * length(var.admin_cidrs)
    error_message = "Every role (lb, web, llm, db) must admit SSH from every admin CIDR."
  }
}

run "llm_is_reachable_only_from_web" {
  assert {
    condition     = openstack_networking_secgroup_v2.role["llm"].name == "qa-llm"
    error_message = "Every LLM machine shares one group, named <prefix>-llm."
  }

  assert {
    condition = sort([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) : rule.remote_ip_prefix
      if rule.security_group_id == openstack_networking_secgroup_v2.role["llm"].id && rule.port_range_min == var.ports.ssh && rule.port_range_max == var.ports.ssh
    ]) == sort(var.admin_cidrs)
    error_message = "The LLM machines must admit SSH from every admin CIDR."
  }

  assert {
    condition = alltrue([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) : rule.port_range_min == var.ports.ssh && contains(var.admin_cidrs, rule.remote_ip_prefix)
      if rule.security_group_id == openstack_networking_secgroup_v2.role["llm"].id
    ])
    error_message = "Apart from admin SSH, no address range may reach the LLM machines."
  }

  assert {
    condition = [
      for rule in values(openstack_networking_secgroup_rule_v2.group) : [rule.remote_group_id, rule.port_range_min, rule.port_range_max]
      if rule.security_group_id == openstack_networking_secgroup_v2.role["llm"].id
    ] == [[openstack_networking_secgroup_v2.role["web"].id, var.ports.llm_gateway, var.ports.llm_gateway]]
    error_message = "The LLM machines must admit exactly the gateway port, from the web group only."
  }

  assert {
    condition     = alltrue([for rule in values(openstack_networking_secgroup_rule_v2.cidr) : !(rule.port_range_min <= var.ollama_port && rule.port_range_max >= var.ollama_port)])
    error_message = "Ollama's port must be reachable from nowhere."
  }

  assert {
    condition     = alltrue([for rule in values(openstack_networking_secgroup_rule_v2.group) : !(rule.port_range_min <= var.ollama_port && rule.port_range_max >= var.ollama_port)])
    error_message = "Ollama's port must not be admitted from any group either."
  }
}

run "db_is_reachable_only_from_web" {
  assert {
    condition     = openstack_networking_secgroup_v2.role["db"].name == "qa-db"
    error_message = "The database machine's group is named <prefix>-db."
  }

  assert {
    condition = [
      for rule in values(openstack_networking_secgroup_rule_v2.group) : [rule.remote_group_id, rule.port_range_min, rule.port_range_max]
      if rule.security_group_id == openstack_networking_secgroup_v2.role["db"].id
    ] == [[openstack_networking_secgroup_v2.role["web"].id, var.ports.postgresql, var.ports.postgresql]]
    error_message = "The database machine must admit exactly the PostgreSQL port, from the web group only."
  }

  assert {
    condition = alltrue([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) : rule.port_range_min == var.ports.ssh && contains(var.admin_cidrs, rule.remote_ip_prefix)
      if rule.security_group_id == openstack_networking_secgroup_v2.role["db"].id
    ])
    error_message = "Apart from admin SSH, no address range may reach the database machine."
  }

  assert {
    condition = alltrue([
      for rule in concat(values(openstack_networking_secgroup_rule_v2.cidr), values(openstack_networking_secgroup_rule_v2.group)) :
      rule.security_group_id == openstack_networking_secgroup_v2.role["db"].id
      if rule.port_range_min <= var.ports.postgresql && rule.port_range_max >= var.ports.postgresql
    ])
    error_message = "No other group may open the PostgreSQL port."
  }
}

run "web_app_only_from_the_load_balancer" {
  assert {
    condition = [
      for rule in values(openstack_networking_secgroup_rule_v2.group) : [rule.remote_group_id, rule.port_range_min]
      if rule.security_group_id == openstack_networking_secgroup_v2.role["web"].id
    ] == [[openstack_networking_secgroup_v2.role["lb"].id, var.ports.web_app]]
    error_message = "The web machines must admit the app port from the load balancer's group only."
  }

  assert {
    condition = alltrue([
      for rule in values(openstack_networking_secgroup_rule_v2.cidr) : rule.port_range_min == var.ports.ssh
      if rule.security_group_id == openstack_networking_secgroup_v2.role["web"].id
    ])
    error_message = "No address range may reach the web machines except admin SSH."
  }
}

run "ssh_from_anywhere_is_refused" {
  command = plan

  variables {
    admin_cidrs = ["::/0"]
  }

  expect_failures = [var.admin_cidrs]
}

run "unparsable_cidr_is_refused" {
  command = plan

  variables {
    admin_cidrs = ["office"]
  }

  expect_failures = [var.admin_cidrs]
}

run "a_port_out_of_range_is_refused" {
  command = plan

  variables {
    ports = merge(yamldecode(file("../../../topology.yml")).topology.ports, { web_app = 70000 })
  }

  expect_failures = [var.ports]
}
