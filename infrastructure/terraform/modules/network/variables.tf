variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name, so that several deployments can share a project."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must be 1-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "subnet_cidr" {
  type        = string
  description = "IPv4 range of the private network the machines talk over."

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && !strcontains(var.subnet_cidr, ":")
    error_message = "subnet_cidr must be an IPv4 CIDR such as 10.42.0.0/24."
  }
}

variable "external_network_name" {
  type        = string
  description = "Name of the provider's external network the router and floating IPs use."

  validation {
    condition     = trimspace(var.external_network_name) != ""
    error_message = "external_network_name must not be empty."
  }
}

variable "dns_nameservers" {
  type        = list(string)
  description = "DNS servers handed out on the private subnet (empty: the cloud's default)."
  default     = []

  validation {
    condition     = alltrue([for address in var.dns_nameservers : can(cidrhost("${address}/32", 0))])
    error_message = "dns_nameservers must be IPv4 addresses."
  }
}
