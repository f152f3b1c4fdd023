locals {
  # Every host entry carries these; a host's own host_vars may add to them, never replace them.
  entry_vars = ["ansible_host", "private_address", "ansible_ssh_common_args"]

  # One host entry shape for every group, so both environments produce the same variable names.
  host_vars = { for host in concat([var.lb, var.db], var.web, var.llm) : host.name => merge(host.host_vars, {
    ansible_host            = host.ansible_host
    private_address         = host.private_address
    ansible_ssh_common_args = host.ssh_args
  }) }

  inventory = {
    all = {
      vars = {
        ansible_user                 = "debian"
        ansible_ssh_private_key_file = var.ssh_private_key_file
        ansible_python_interpreter   = "/usr/bin/python3"
        ollama_qa_environment        = var.environment
        public_hostname              = var.public_hostname
        acme_directory_url           = var.acme_directory_url
        acme_ca_bundle_file          = var.acme_ca_bundle_file
        admin_cidrs                  = var.admin_cidrs
      }
      children = {
        lb  = { hosts = { (var.lb.name) = local.host_vars[var.lb.name] } }
        web = { hosts = { for host in var.web : host.name => local.host_vars[host.name] } }
        llm = { hosts = { for host in var.llm : host.name => local.host_vars[host.name] } }
        db  = { hosts = { (var.db.name) = local.host_vars[var.db.name] } }
      }
    }
  }
}
