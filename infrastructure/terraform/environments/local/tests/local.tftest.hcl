# The local topology's plan with a mocked Docker: machines per role, VM settings without
# --privileged, each LLM machine's install method, and the same inventory contract as OpenStack.
# tests/terraform applies it for real.

mock_provider "docker" {}

# Plans only check that the key and certificate files exist: the fixture key stands in for them.
variables {
  name_prefix           = "qa-mock"
  subnet_cidr           = "172.30.99.0/24"
  web_count             = 3
  vm_image              = "ollama-qa/vm:test"
  acme_image            = "ollama-qa/acme:test"
  ssh_public_key_file   = "../../testdata/fixture_key.pub"
  ssh_private_key_file  = "/state/id_ed25519"
  acme_hostname         = "acme.ollama-qa.test"
  acme_certificate_file = abspath("../../testdata/fixture_key.pub")
  acme_private_key_file = abspath("../../testdata/fixture_key.pub")
  acme_ca_file          = "../../testdata/fixture_key.pub"
}

run "machines_per_role" {
  assert {
    condition     = length([for name, machine in local.machines : name if machine.role == "web"]) == 3 && length(local.machines) == 8
    error_message = "One lb, one db, web_count web machines and one LLM machine per llm_machines entry (3 by default)."
  }

  assert {
    condition     = sort([for name, machine in local.machines : name if machine.role == "llm"]) == tolist(["qa-mock-llm1", "qa-mock-llm2", "qa-mock-llm3"])
    error_message = "The LLM machines must be named <prefix>-llm1..N."
  }

  assert {
    condition = output.addresses == {
      lb   = "172.30.99.10"
      web  = ["172.30.99.101", "172.30.99.102", "172.30.99.103"]
      llm  = ["172.30.99.11", "172.30.99.12", "172.30.99.13"]
      db   = "172.30.99.20"
      acme = "172.30.99.5"
    }
    error_message = "Machines must get their fixed addresses."
  }
}

run "each_llm_machine_gets_its_install_method" {
  assert {
    condition = {
      for name, host in yamldecode(output.ansible_inventory).all.children.llm.hosts : name => host.ollama_install_method
      } == {
      "qa-mock-llm1" = "binary"
      "qa-mock-llm2" = "binary"
      "qa-mock-llm3" = "simulator"
    }
    error_message = "By default llm1 and llm2 install Ollama built from source and llm3 the simulator."
  }

  assert {
    condition = alltrue([for group in ["lb", "web", "db"] : alltrue([
      for host in values(yamldecode(output.ansible_inventory).all.children[group].hosts) : !contains(keys(host), "ollama_install_method")
    ])])
    error_message = "Only LLM machines carry ollama_install_method."
  }
}

run "one_llm_machine" {
  variables {
    llm_machines = [{ install_method = "release" }]
  }

  assert {
    condition     = output.addresses.llm == ["172.30.99.11"] && length(local.machines) == 6
    error_message = "A single LLM machine keeps the address .11."
  }

  assert {
    condition = yamldecode(output.ansible_inventory).all.children.llm.hosts == {
      "qa-mock-llm1" = {
        ansible_host            = "172.30.99.11"
        private_address         = "172.30.99.11"
        ansible_ssh_common_args = local.ssh_args
        ollama_install_method   = "release"
      }
    }
    error_message = "The llm group must hold exactly llm1 with its install method."
  }
}

run "vms_run_systemd_without_privileged" {
  assert {
    condition     = alltrue([for container in values(docker_container.machine) : container.privileged != true && container.command == tolist(["/lib/systemd/systemd"]) && container.cgroupns_mode == "host"])
    error_message = "VM containers run systemd with the host cgroup namespace and never privileged."
  }

  assert {
    condition     = alltrue([for container in values(docker_container.machine) : [for upload in container.upload : upload.file] == ["/home/debian/.ssh/authorized_keys"]])
    error_message = "Every VM gets the SSH public key for debian."
  }
}

run "inventory_contract" {
  assert {
    condition     = sort(keys(yamldecode(output.ansible_inventory).all.children)) == sort(yamldecode(file("../../../topology.yml")).topology.groups)
    error_message = "The inventory must have exactly the groups of topology.yml: lb, web, llm and db."
  }

  assert {
    condition     = yamldecode(output.ansible_inventory).all.children.db.hosts == { "qa-mock-db" = { ansible_host = "172.30.99.20", private_address = "172.30.99.20", ansible_ssh_common_args = local.ssh_args } }
    error_message = "The db group must hold the database container at its fixed address."
  }

  assert {
    condition = sort(keys(yamldecode(output.ansible_inventory).all.vars)) == sort(tolist([
      "ansible_user", "ansible_ssh_private_key_file", "ansible_python_interpreter", "ollama_qa_environment",
      "public_hostname", "acme_directory_url", "acme_ca_bundle_file", "admin_cidrs",
    ]))
    error_message = "The all-group variables must be exactly those of the inventory contract."
  }

  assert {
    condition     = yamldecode(output.ansible_inventory).all.vars.acme_directory_url == "https://acme.ollama-qa.test:14000/dir" && yamldecode(output.ansible_inventory).all.vars.admin_cidrs == ["172.30.99.1/32"]
    error_message = "certbot must use the local Pebble, and SSH is admitted from the host's bridge address."
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
    llm_machines = []
  }

  expect_failures = [var.llm_machines]
}

run "llm_machines_reaching_the_database_address_are_refused" {
  command = plan

  variables {
    llm_machines = [for index in range(10) : { install_method = "simulator" }]
  }

  expect_failures = [var.llm_machines]
}

run "unknown_install_method_is_refused" {
  command = plan

  variables {
    llm_machines = [{ install_method = "binary" }, { install_method = "gpu" }]
  }

  expect_failures = [var.llm_machines]
}

run "relative_acme_key_path_is_refused" {
  command = plan

  variables {
    acme_private_key_file = "../../testdata/fixture_key.pub"
  }

  expect_failures = [var.acme_private_key_file]
}
