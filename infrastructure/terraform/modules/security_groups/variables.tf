variable "name_prefix" {
  type        = string
  description = "Prefix of every security group name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must be 1-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "admin_cidrs" {
  type        = list(string)
  description = "Networks allowed to reach SSH on every machine; the only SSH sources."

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "admin_cidrs must be a non-empty list of CIDRs such as 203.0.113.7/32."
  }

  validation {
    condition     = !anytrue([for cidr in var.admin_cidrs : endswith(cidr, "/0")])
    error_message = "admin_cidrs must not open SSH to the whole internet (/0)."
  }
}

variable "ports" {
  type = object({
    ssh         = number
    http        = number
    https       = number
    web_app     = number
    llm_gateway = number
    postgresql  = number
  })
  description = "TCP ports by name, as topology.yml's ports: ssh on every machine (from admin_cidrs), http and https on the load balancer (from anyone), web_app on the web machines (from the load balancer), llm_gateway on the LLM machines and postgresql on the database machine (from the web machines)."

  validation {
    condition     = alltrue([for port in values(var.ports) : port >= 1 && port <= 65535 && floor(port) == port])
    error_message = "Every port must be a TCP port number."
  }
}
