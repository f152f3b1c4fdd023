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
  })
  description = "The load balancer: the address Ansible connects to, the address other machines use, and extra SSH options."
}

variable "web" {
  type = list(object({
    name            = string
    ansible_host    = string
    private_address = string
    ssh_args        = string
  }))
  description = "The web machines, in order."

  validation {
    condition     = length(var.web) >= 2
    error_message = "The inventory needs at least 2 web machines."
  }
}

variable "llm" {
  type = object({
    name            = string
    ansible_host    = string
    private_address = string
    ssh_args        = string
  })
  description = "The GPU machine that runs Ollama behind the gateway."
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
