# The inventory both environments share: one entry per host in its group, per-host variables merged
# into that host's entry only, and refusal of an inventory without LLM machines.

variables {
  environment          = "local"
  ssh_private_key_file = "/state/id_ed25519"
  public_hostname      = "qa.example.org"
  acme_directory_url   = "https://acme.example.org/dir"
  acme_ca_bundle_file  = ""
  admin_cidrs          = ["10.0.0.1/32"]

  lb = { name = "qa-lb", ansible_host = "10.0.0.10", private_address = "10.0.0.10", ssh_args = "-o A=1" }
  db = { name = "qa-db", ansible_host = "10.0.0.20", private_address = "10.0.0.20", ssh_args = "-o A=1" }
  web = [
    { name = "qa-web1", ansible_host = "10.0.0.101", private_address = "10.0.0.101", ssh_args = "-o A=1" },
    { name = "qa-web2", ansible_host = "10.0.0.102", private_address = "10.0.0.102", ssh_args = "-o A=1" },
  ]
  llm = [
    { name = "qa-llm1", ansible_host = "10.0.0.11", private_address = "10.0.0.11", ssh_args = "-o A=1", host_vars = { ollama_install_method = "binary" } },
    { name = "qa-llm2", ansible_host = "10.0.0.12", private_address = "10.0.0.12", ssh_args = "-o A=1", host_vars = { ollama_install_method = "simulator" } },
  ]
}

run "every_llm_machine_is_a_host_of_the_llm_group" {
  command = plan

  assert {
    condition     = sort(keys(yamldecode(output.yaml).all.children.llm.hosts)) == tolist(["qa-llm1", "qa-llm2"])
    error_message = "The llm group must hold every LLM machine."
  }

  assert {
    condition = yamldecode(output.yaml).all.children.llm.hosts["qa-llm2"] == {
      ansible_host            = "10.0.0.12"
      private_address         = "10.0.0.12"
      ansible_ssh_common_args = "-o A=1"
      ollama_install_method   = "simulator"
    }
    error_message = "An LLM host's entry is the common one plus its own host_vars."
  }

  assert {
    condition = alltrue([for group in ["lb", "web", "db"] : alltrue([
      for host in values(yamldecode(output.yaml).all.children[group].hosts) : sort(keys(host)) == tolist(["ansible_host", "ansible_ssh_common_args", "private_address"])
    ])])
    error_message = "Hosts without host_vars carry exactly the common entry."
  }
}

run "the_database_machine_is_the_db_group" {
  command = plan

  assert {
    condition = yamldecode(output.yaml).all.children.db.hosts == {
      "qa-db" = { ansible_host = "10.0.0.20", private_address = "10.0.0.20", ansible_ssh_common_args = "-o A=1" }
    }
    error_message = "The db group must hold exactly the database machine with the common entry."
  }
}

run "no_llm_machine_is_refused" {
  command = plan

  variables {
    llm = []
  }

  expect_failures = [var.llm]
}

run "host_vars_cannot_replace_the_connection" {
  command = plan

  variables {
    llm = [
      { name = "qa-llm1", ansible_host = "10.0.0.11", private_address = "10.0.0.11", ssh_args = "-o A=1", host_vars = { ansible_host = "192.0.2.1" } },
    ]
  }

  expect_failures = [var.llm]
}
