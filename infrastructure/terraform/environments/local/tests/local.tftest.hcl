# The local topology's plan with a mocked Docker: machines per role, VM settings without
# --privileged, and the same inventory contract as OpenStack. tests/terraform applies it for real.

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
    condition     = length([for name, machine in local.machines : name if machine.role == "web"]) == 3 && length(local.machines) == 5
    error_message = "One lb, web_count web machines and one gpu."
  }

  assert {
    condition     = output.addresses == { lb = "172.30.99.10", web = ["172.30.99.101", "172.30.99.102", "172.30.99.103"], llm = "172.30.99.11", acme = "172.30.99.5" }
    error_message = "Machines must get their fixed addresses."
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
    condition     = sort(keys(yamldecode(output.ansible_inventory).all.children)) == tolist(["lb", "llm", "web"])
    error_message = "The inventory must have exactly the groups lb, web and llm."
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

run "relative_acme_key_path_is_refused" {
  command = plan

  variables {
    acme_private_key_file = "../../testdata/fixture_key.pub"
  }

  expect_failures = [var.acme_private_key_file]
}
