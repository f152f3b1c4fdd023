variable "cloud" {
  type        = string
  description = "Entry of clouds.yaml to use; null reads the OS_* environment variables instead."
  default     = null
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, so that several deployments can share a project."
  default     = "ollama-qa"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must be 1-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "subnet_cidr" {
  type        = string
  description = "IPv4 range of the private network."
  default     = "10.42.0.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && !strcontains(var.subnet_cidr, ":")
    error_message = "subnet_cidr must be an IPv4 CIDR such as 10.42.0.0/24."
  }
}

variable "external_network_name" {
  type        = string
  description = "Name of the cloud's external network (router gateway and floating IP pool)."

  validation {
    condition     = trimspace(var.external_network_name) != ""
    error_message = "external_network_name must not be empty."
  }
}

variable "image_name" {
  type        = string
  description = "Glance image of Debian 12 (login user debian) that every machine boots."

  validation {
    condition     = trimspace(var.image_name) != ""
    error_message = "image_name must not be empty."
  }
}

variable "lb_flavor" {
  type        = string
  description = "Flavor of the load balancer (HAProxy needs little: 1 vCPU, 1-2 GiB)."

  validation {
    condition     = trimspace(var.lb_flavor) != ""
    error_message = "lb_flavor must not be empty."
  }
}

variable "web_flavor" {
  type        = string
  description = "Flavor of each web machine (2 vCPU, 2-4 GiB is plenty)."

  validation {
    condition     = trimspace(var.web_flavor) != ""
    error_message = "web_flavor must not be empty."
  }
}

variable "llm_flavor" {
  type        = string
  description = "Flavor of each LLM machine; its GPU's memory decides which models fit."

  validation {
    condition     = trimspace(var.llm_flavor) != ""
    error_message = "llm_flavor must not be empty."
  }
}

variable "db_flavor" {
  type        = string
  description = "Flavor of the database machine (PostgreSQL for every web machine: 2 vCPU, 4 GiB is plenty)."

  validation {
    condition     = trimspace(var.db_flavor) != ""
    error_message = "db_flavor must not be empty."
  }
}

variable "web_count" {
  type        = number
  description = "Number of web machines (at least 2, so that one can fail)."
  default     = 2

  validation {
    condition     = var.web_count >= 2 && floor(var.web_count) == var.web_count
    error_message = "web_count must be a whole number of at least 2."
  }
}

variable "llm_count" {
  type        = number
  description = "Number of LLM machines, each running Ollama behind its own gateway."
  default     = 1

  validation {
    condition     = var.llm_count >= 1 && floor(var.llm_count) == var.llm_count
    error_message = "llm_count must be a whole number of at least 1."
  }
}

variable "admin_cidrs" {
  type        = list(string)
  description = "Networks allowed to reach SSH on every machine (your office or VPN, e.g. 203.0.113.7/32)."

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "admin_cidrs must be a non-empty list of CIDRs such as 203.0.113.7/32."
  }

  validation {
    condition     = !anytrue([for cidr in var.admin_cidrs : endswith(cidr, "/0")])
    error_message = "admin_cidrs must not open SSH to the whole internet (/0)."
  }
}

variable "ssh_public_key_file" {
  type        = string
  description = "Path of the SSH public key for the debian user (ssh-keygen -t ed25519)."
}

variable "ssh_private_key_file" {
  type        = string
  description = "Controller path of the matching private key; only its path goes into the inventory."

  validation {
    condition     = trimspace(var.ssh_private_key_file) != ""
    error_message = "ssh_private_key_file must not be empty."
  }
}

variable "public_hostname" {
  type        = string
  description = "DNS name of the site; point it at the load balancer's floating IP before running Ansible."

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.public_hostname))
    error_message = "public_hostname must be a lower-case DNS name such as qa.example.org."
  }
}

variable "acme_directory_url" {
  type        = string
  description = "ACME directory for the certificate; Let's Encrypt's staging directory is good for trials."
  default     = "https://acme-v02.api.letsencrypt.org/directory"

  validation {
    condition     = startswith(var.acme_directory_url, "https://")
    error_message = "acme_directory_url must be an https:// URL."
  }
}
