variable "environment" {
  type        = string
  description = "Value of ollama_qa_environment: which target the roles are deploying to."

  validation {
    condition     = contains(["local", "openstack"], var.environment)
    error_message = "environment must be \"local\" or \"openstack\"."
  }
}

variable "lb" {
  type = object({
    name            = string
    ansible_host    = string
    private_address = string
    ssh_args        = string
    host_vars       = optional(map(string), {})
  })
  description = "The load balancer: the address Ansible connects to, the address other machines use, extra SSH options, and extra host variables."

  validation {
    condition     = length(setintersection(keys(var.lb.host_vars), local.entry_vars)) == 0
    error_message = "host_vars must not set ansible_host, private_address or ansible_ssh_common_args: the other attributes do."
  }
}

variable "db" {
  type = object({
    name            = string
    ansible_host    = string
    private_address = string
    ssh_args        = string
    host_vars       = optional(map(string), {})
  })
  description = "The database machine, with the same attributes as lb."

  validation {
    condition     = length(setintersection(keys(var.db.host_vars), local.entry_vars)) == 0
    error_message = "host_vars must not set ansible_host, private_address or ansible_ssh_common_args: the other attributes do."
  }
}

variable "web" {
  type = list(object({
    name            = string
    ansible_host    = string
    private_address = string
    ssh_args        = string
    host_vars       = optional(map(string), {})
  }))
  description = "The web machines, in order, with the same attributes as lb."

  validation {
    condition     = length(var.web) >= 2
    error_message = "The inventory needs at least 2 web machines."
  }

  validation {
    condition     = alltrue([for host in var.web : length(setintersection(keys(host.host_vars), local.entry_vars)) == 0])
    error_message = "host_vars must not set ansible_host, private_address or ansible_ssh_common_args: the other attributes do."
  }
}

variable "llm" {
  type = list(object({
    name            = string
    ansible_host    = string
    private_address = string
    ssh_args        = string
    host_vars       = optional(map(string), {})
  }))
  description = "The LLM machines (Ollama behind its gateway), in order, with the same attributes as lb; host_vars carries per-machine settings such as ollama_install_method."

  validation {
    condition     = length(var.llm) >= 1
    error_message = "The inventory needs at least 1 LLM machine."
  }

  validation {
    condition     = alltrue([for host in var.llm : length(setintersection(keys(host.host_vars), local.entry_vars)) == 0])
    error_message = "host_vars must not set ansible_host, private_address or ansible_ssh_common_args: the other attributes do."
  }
}

variable "ssh_private_key_file" {
  type        = string
  description = "Controller path of the private key Ansible logs in with."

  validation {
    condition     = trimspace(var.ssh_private_key_file) != ""
    error_message = "ssh_private_key_file must not be empty."
  }
}

variable "public_hostname" {
  type        = string
  description = "Site name on the certificate (a DNS name pointing at the load balancer)."

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.public_hostname))
    error_message = "public_hostname must be a lower-case DNS name such as qa.example.org."
  }
}

variable "acme_directory_url" {
  type        = string
  description = "ACME directory certbot registers with."

  validation {
    condition     = startswith(var.acme_directory_url, "https://")
    error_message = "acme_directory_url must be an https:// URL."
  }
}

variable "acme_ca_bundle_file" {
  type        = string
  description = "Controller path of the CA that signs the ACME server's HTTPS endpoint; empty for Let's Encrypt."
}

variable "admin_cidrs" {
  type        = list(string)
  description = "Networks that may reach SSH on every machine."

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "admin_cidrs must be a non-empty list of CIDRs such as 203.0.113.7/32."
  }
}
