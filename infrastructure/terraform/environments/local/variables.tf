variable "name_prefix" {
  type        = string
  description = "Prefix of every container and of the network, so that several topologies can coexist."
  default     = "ollama-qa-local"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must be 1-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "subnet_cidr" {
  type        = string
  description = "IPv4 range of the topology's Docker network; machines get fixed addresses in it."
  default     = "172.30.57.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && !strcontains(var.subnet_cidr, ":") && tonumber(split("/", var.subnet_cidr)[1]) <= 24
    error_message = "subnet_cidr must be an IPv4 CIDR of at least /24, such as 172.30.57.0/24."
  }
}

variable "web_count" {
  type        = number
  description = "Number of web machines (at least 2, so that one can fail)."
  default     = 2

  validation {
    condition     = var.web_count >= 2 && var.web_count <= 50 && floor(var.web_count) == var.web_count
    error_message = "web_count must be a whole number from 2 to 50."
  }
}

variable "llm_machines" {
  type = list(object({
    install_method = string
  }))
  description = "The LLM machines llm1..N in order, each with the ollama_install_method Ansible uses on it: binary (Ollama built from source by python3 -m lifecycle ollama), release (the upstream build) or simulator."
  default = [
    { install_method = "binary" },
    { install_method = "binary" },
    { install_method = "simulator" },
  ]

  validation {
    condition     = length(var.llm_machines) >= 1 && length(var.llm_machines) <= 9
    error_message = "llm_machines must list from 1 to 9 machines (their addresses .11 to .19 end below the database's .20)."
  }

  validation {
    condition     = alltrue([for machine in var.llm_machines : contains(["binary", "simulator", "release"], machine.install_method)])
    error_message = "Every install_method must be \"binary\", \"simulator\" or \"release\"."
  }
}

variable "vm_image" {
  type        = string
  description = "Tag of the systemd \"VM\" image (python3 -m lifecycle image vm)."

  validation {
    condition     = trimspace(var.vm_image) != ""
    error_message = "vm_image must not be empty."
  }
}

variable "acme_image" {
  type        = string
  description = "Tag of the Pebble image standing in for Let's Encrypt (python3 -m lifecycle image acme)."

  validation {
    condition     = trimspace(var.acme_image) != ""
    error_message = "acme_image must not be empty."
  }
}

variable "ssh_public_key_file" {
  type        = string
  description = "Path of the SSH public key installed for the debian user on every machine."

  validation {
    condition     = fileexists(pathexpand(var.ssh_public_key_file))
    error_message = "ssh_public_key_file must name an existing public key file."
  }
}

variable "ssh_private_key_file" {
  type        = string
  description = "Controller path of the matching private key; only its path goes into the inventory."

  validation {
    condition     = trimspace(var.ssh_private_key_file) != ""
    error_message = "ssh_private_key_file must not be empty."
  }
}

variable "acme_hostname" {
  type        = string
  description = "Name the machines reach the ACME server by; its HTTPS certificate must carry this name."

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.acme_hostname))
    error_message = "acme_hostname must be a lower-case DNS name."
  }
}

variable "acme_certificate_file" {
  type        = string
  description = "Absolute path of the ACME server's HTTPS certificate (PEM), mounted into its container."

  validation {
    condition     = startswith(var.acme_certificate_file, "/") && fileexists(var.acme_certificate_file)
    error_message = "acme_certificate_file must be the absolute path of an existing file."
  }
}

variable "acme_private_key_file" {
  type        = string
  description = "Absolute path of that certificate's private key (PEM); mounted read-only, never copied into state."

  validation {
    condition     = startswith(var.acme_private_key_file, "/") && fileexists(var.acme_private_key_file)
    error_message = "acme_private_key_file must be the absolute path of an existing file."
  }
}

variable "acme_ca_file" {
  type        = string
  description = "Path of the CA certificate that signed acme_certificate_file; certbot trusts it."

  validation {
    condition     = fileexists(pathexpand(var.acme_ca_file))
    error_message = "acme_ca_file must name an existing CA certificate file."
  }
}

variable "public_hostname" {
  type        = string
  description = "Site name on the certificate; the mock DNS resolves it (and every name) to the load balancer."
  default     = "www.ollama-qa.test"

  validation {
    condition     = can(regex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$", var.public_hostname))
    error_message = "public_hostname must be a lower-case DNS name."
  }
}
