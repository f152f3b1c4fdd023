variable "name_prefix" {
  type        = string
  description = "Prefix of every machine name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must be 1-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "image_name" {
  type        = string
  description = "Glance image every machine boots (a Debian 12 cloud image whose login user is debian)."

  validation {
    condition     = trimspace(var.image_name) != ""
    error_message = "image_name must not be empty."
  }
}

variable "flavors" {
  type = object({
    lb  = string
    web = string
    llm = string
    db  = string
  })
  description = "Nova flavor per role; the llm one must carry a GPU the NVIDIA driver supports."

  validation {
    condition     = alltrue([for flavor in values(var.flavors) : trimspace(flavor) != ""])
    error_message = "Every flavor (lb, web, llm, db) must be a non-empty flavor name."
  }
}

variable "web_count" {
  type        = number
  description = "Number of web machines behind the load balancer."

  validation {
    condition     = var.web_count >= 2 && floor(var.web_count) == var.web_count
    error_message = "web_count must be a whole number of at least 2, so that one machine can fail."
  }
}

variable "llm_count" {
  type        = number
  description = "Number of LLM machines, each running Ollama behind its own gateway."

  validation {
    condition     = var.llm_count >= 1 && floor(var.llm_count) == var.llm_count
    error_message = "llm_count must be a whole number of at least 1."
  }
}

variable "ssh_public_key_file" {
  type        = string
  description = "Path of the SSH public key installed for the debian user."

  validation {
    condition     = fileexists(pathexpand(var.ssh_public_key_file))
    error_message = "ssh_public_key_file must name an existing public key file."
  }
}

variable "network_id" {
  type        = string
  description = "Private network the machines' ports are attached to."
}

variable "subnet_id" {
  type        = string
  description = "Private subnet the machines' ports are placed in."
}

variable "security_group_ids" {
  type = object({
    lb  = string
    web = string
    llm = string
    db  = string
  })
  description = "Security group ID per role, from the security_groups module."
}

variable "external_network_name" {
  type        = string
  description = "External network (pool) the load balancer's floating IP comes from."
}

variable "router_interface_id" {
  type        = string
  description = "Router interface of the subnet; a floating IP can only be bound once it exists."
}
