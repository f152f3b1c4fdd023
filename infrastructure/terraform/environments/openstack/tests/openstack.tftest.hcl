# Plan-level checks of the OpenStack environment against the real provider schema, with no cloud:
# the mock provider answers every call. Runs use apply so that computed values (addresses) exist.

mock_provider "openstack" {
  mock_resource "openstack_networking_port_v2" {
    defaults = {
      all_fixed_ips = ["10.42.0.50"]
    }
  }

  mock_resource "openstack_networking_floatingip_v2" {
    defaults = {
      address = "198.51.100.20"
    }
  }

  mock_data "openstack_networking_network_v2" {
    defaults = {
      name = "public"
    }
  }
}

# The site's group_vars read the public half beside the private key: the fixture key stands in.
variables {
  external_network_name = "public"
  image_name            = "debian-12"
  lb_flavor             = "m1.small"
  web_flavor            = "m1.medium"
  llm_flavor            = "g1.gpu"
  db_flavor             = "m1.large"
  web_count             = 3
  llm_count             = 2
  admin_cidrs           = ["203.0.113.7/32"]
  ssh_public_key_file   = "../../testdata/fixture_key.pub"
  ssh_private_key_file  = abspath("../../testdata/fixture_key")
  public_hostname       = "qa.example.org"
}

run "machines_per_role" {
  assert {
    condition     = length(output.addresses.web) == 3
    error_message = "web_count = 3 must create 3 web machines."
  }

  assert {
    condition     = [for machine in output.addresses.llm : machine.name] == ["ollama-qa-llm1", "ollama-qa-llm2"]
    error_message = "llm_count = 2 must create 2 LLM machines, named <prefix>-llm1 and -llm2."
  }

  assert {
    condition     = sort([for name, role in module.compute.roles : name if role == "llm"]) == tolist(["ollama-qa-llm1", "ollama-qa-llm2"])
    error_message = "The LLM machines must be the only machines of role llm."
  }

  assert {
    condition     = output.addresses.db.name == "ollama-qa-db" && [for name, role in module.compute.roles : name if role == "db"] == ["ollama-qa-db"]
    error_message = "One database machine, named <prefix>-db."
  }

  assert {
    condition     = module.compute.db.private_address == "10.42.0.50"
    error_message = "The database machine must be on the private network."
  }

  assert {
    condition     = output.addresses.lb.public_address == "198.51.100.20"
    error_message = "The load balancer must get the floating IP."
  }

  assert {
    condition     = output.public_url == "https://qa.example.org/"
    error_message = "public_url must be https on public_hostname."
  }
}

run "inventory_contract" {
  assert {
    condition     = sort(keys(yamldecode(output.ansible_inventory).all.children)) == sort(local.topology.groups)
    error_message = "The inventory must have exactly the groups of topology.yml: lb, web, llm and db."
  }

  assert {
    condition     = length(yamldecode(output.ansible_inventory).all.children.lb.hosts) == 1 && length(yamldecode(output.ansible_inventory).all.children.web.hosts) == 3
    error_message = "lb must hold one host and web every web machine."
  }

  assert {
    condition     = sort(keys(yamldecode(output.ansible_inventory).all.children.llm.hosts)) == tolist(["ollama-qa-llm1", "ollama-qa-llm2"])
    error_message = "llm must hold every LLM machine."
  }

  assert {
    condition     = keys(yamldecode(output.ansible_inventory).all.children.db.hosts) == ["ollama-qa-db"]
    error_message = "db must hold the database machine."
  }

  assert {
    condition = sort(keys(yamldecode(output.ansible_inventory).all.vars)) == sort(tolist([
      "ansible_user", "ansible_ssh_private_key_file", "ansible_python_interpreter", "ollama_qa_environment",
      "public_hostname", "acme_directory_url", "acme_ca_bundle_file", "admin_cidrs",
    ]))
    error_message = "The all-group variables must be exactly those of the inventory contract."
  }

  assert {
    condition     = yamldecode(output.ansible_inventory).all.vars.ollama_qa_environment == "openstack" && yamldecode(output.ansible_inventory).all.vars.acme_ca_bundle_file == ""
    error_message = "OpenStack inventories name their environment and trust the public CA (empty bundle)."
  }

  assert {
    condition = alltrue([for group in values(yamldecode(output.ansible_inventory).all.children) : alltrue([
      for host in values(group.hosts) : sort(keys(host)) == tolist(["ansible_host", "ansible_ssh_common_args", "private_address"])
    ])])
    error_message = "Every host must carry ansible_host, private_address and ansible_ssh_common_args, and on OpenStack nothing else."
  }

  assert {
    condition     = values(yamldecode(output.ansible_inventory).all.children.lb.hosts)[0].ansible_host == "198.51.100.20"
    error_message = "Ansible must reach the load balancer on its floating IP."
  }
}

run "fewer_than_two_web_machines_are_refused" {
  command = plan

  variables {
    web_count = 1
  }

  expect_failures = [var.web_count]
}

run "malformed_admin_cidr_is_refused" {
  command = plan

  variables {
    admin_cidrs = ["203.0.113.7/33"]
  }

  expect_failures = [var.admin_cidrs]
}

run "ssh_from_the_whole_internet_is_refused" {
  command = plan

  variables {
    admin_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.admin_cidrs]
}

run "no_llm_machine_is_refused" {
  command = plan

  variables {
    llm_count = 0
  }

  expect_failures = [var.llm_count]
}

run "empty_llm_flavor_is_refused" {
  command = plan

  variables {
    llm_flavor = " "
  }

  expect_failures = [var.llm_flavor]
}

run "empty_db_flavor_is_refused" {
  command = plan

  variables {
    db_flavor = ""
  }

  expect_failures = [var.db_flavor]
}

run "malformed_subnet_is_refused" {
  command = plan

  variables {
    subnet_cidr = "10.42.0.0"
  }

  expect_failures = [var.subnet_cidr]
}
