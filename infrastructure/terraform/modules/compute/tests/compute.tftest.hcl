# Machines per role, their names, flavors and groups, and refusal of a topology that cannot
# survive one web failure or has no LLM machine.

mock_provider "openstack" {
  mock_resource "openstack_networking_port_v2" {
    defaults = {
      all_fixed_ips = ["10.42.0.60"]
    }
  }
}

variables {
  name_prefix           = "qa"
  image_name            = "debian-12"
  flavors               = { lb = "m1.small", web = "m1.medium", llm = "g1.gpu", db = "m1.db" }
  web_count             = 2
  llm_count             = 1
  ssh_public_key_file   = "../../testdata/fixture_key.pub"
  network_id            = "network-id"
  subnet_id             = "subnet-id"
  security_group_ids    = { lb = "sg-lb", web = "sg-web", llm = "sg-llm", db = "sg-db" }
  external_network_name = "public"
  router_interface_id   = "router-interface-id"
}

run "one_lb_n_web_m_llm" {
  variables {
    web_count = 4
    llm_count = 2
  }

  assert {
    condition     = length([for instance in values(openstack_compute_instance_v2.machine) : instance if instance.metadata.role == "lb"]) == 1
    error_message = "Exactly one load balancer."
  }

  assert {
    condition     = length([for instance in values(openstack_compute_instance_v2.machine) : instance if instance.metadata.role == "web"]) == 4
    error_message = "web_count web machines."
  }

  assert {
    condition     = sort([for instance in values(openstack_compute_instance_v2.machine) : instance.name if instance.metadata.role == "llm"]) == tolist(["qa-llm1", "qa-llm2"])
    error_message = "llm_count LLM machines, named <prefix>-llm1..N."
  }

  assert {
    condition     = [for machine in output.llm : machine.name] == ["qa-llm1", "qa-llm2"]
    error_message = "The llm output must list every LLM machine in order."
  }

  assert {
    condition     = alltrue([for instance in values(openstack_compute_instance_v2.machine) : instance.flavor_name == "g1.gpu" if instance.metadata.role == "llm"])
    error_message = "Every LLM machine must use the llm flavor."
  }

  assert {
    condition     = alltrue([for name in ["qa-llm1", "qa-llm2"] : openstack_networking_port_v2.machine[name].security_group_ids == toset(["sg-llm"])])
    error_message = "Every LLM machine's port must carry exactly the llm security group."
  }

  assert {
    condition     = [for instance in values(openstack_compute_instance_v2.machine) : [instance.name, instance.flavor_name] if instance.metadata.role == "db"] == [["qa-db", "m1.db"]]
    error_message = "Exactly one database machine, <prefix>-db, with the db flavor."
  }

  assert {
    condition     = output.db == { name = "qa-db", private_address = "10.42.0.60" }
    error_message = "The db output must name the database machine and its private address."
  }

  assert {
    condition     = openstack_networking_port_v2.machine["qa-db"].security_group_ids == toset(["sg-db"])
    error_message = "The database machine's port must carry exactly the db security group."
  }

  assert {
    condition     = openstack_networking_floatingip_associate_v2.lb.port_id == openstack_networking_port_v2.machine["qa-lb"].id
    error_message = "The floating IP must belong to the load balancer."
  }

  assert {
    condition     = alltrue([for name, port in openstack_networking_port_v2.machine : port.security_group_ids == toset([var.security_group_ids[local.machines[name]]])])
    error_message = "Every machine's port must carry exactly its role's security group."
  }
}

run "one_web_machine_is_refused" {
  command = plan

  variables {
    web_count = 1
  }

  expect_failures = [var.web_count]
}

run "no_llm_machine_is_refused" {
  command = plan

  variables {
    llm_count = 0
  }

  expect_failures = [var.llm_count]
}

run "empty_flavor_is_refused" {
  command = plan

  variables {
    flavors = { lb = "m1.small", web = "", llm = "g1.gpu", db = "m1.db" }
  }

  expect_failures = [var.flavors]
}
