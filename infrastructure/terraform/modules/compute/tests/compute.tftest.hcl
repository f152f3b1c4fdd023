# Machines per role, their flavors, and refusal of a topology that cannot survive one web failure.

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
  flavors               = { lb = "m1.small", web = "m1.medium", gpu = "g1.gpu" }
  web_count             = 2
  ssh_public_key_file   = "../../testdata/fixture_key.pub"
  network_id            = "network-id"
  subnet_id             = "subnet-id"
  security_group_ids    = { lb = "sg-lb", web = "sg-web", gpu = "sg-gpu" }
  external_network_name = "public"
  router_interface_id   = "router-interface-id"
}

run "one_lb_n_web_one_gpu" {
  variables {
    web_count = 4
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
    condition     = length([for instance in values(openstack_compute_instance_v2.machine) : instance if instance.metadata.role == "gpu"]) == 1
    error_message = "Exactly one GPU machine."
  }

  assert {
    condition     = openstack_compute_instance_v2.machine["qa-gpu"].flavor_name == "g1.gpu"
    error_message = "The GPU machine must use the gpu flavor."
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

run "empty_flavor_is_refused" {
  command = plan

  variables {
    flavors = { lb = "m1.small", web = "", gpu = "g1.gpu" }
  }

  expect_failures = [var.flavors]
}
