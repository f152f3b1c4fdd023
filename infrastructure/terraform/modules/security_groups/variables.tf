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
  description = "Networks allowed to reach SSH (22/tcp) on every machine; the only SSH sources."

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "admin_cidrs must be a non-empty list of CIDRs such as 203.0.113.7/32."
  }

  validation {
    condition     = !anytrue([for cidr in var.admin_cidrs : endswith(cidr, "/0")])
    error_message = "admin_cidrs must not open SSH to the whole internet (/0)."
  }
}

variable "public_ports" {
  type        = list(number)
  description = "TCP ports the load balancer serves to anyone (HTTP for ACME and redirects, HTTPS)."
  default     = [80, 443]

  validation {
    condition     = length(var.public_ports) > 0 && alltrue([for port in var.public_ports : port >= 1 && port <= 65535])
    error_message = "public_ports must be TCP port numbers."
  }
}

variable "web_app_port" {
  type        = number
  description = "TCP port of the web app on the web machines; the same as the webapp role's default."
  default     = 8080

  validation {
    condition     = var.web_app_port >= 1 && var.web_app_port <= 65535
    error_message = "web_app_port must be a TCP port number."
  }
}

variable "gateway_port" {
  type        = number
  description = "TCP port of the authenticating TLS gateway on the LLM machines; the same as the llm_gateway role's default."
  default     = 8443

  validation {
    condition     = var.gateway_port >= 1 && var.gateway_port <= 65535
    error_message = "gateway_port must be a TCP port number."
  }
}

variable "postgresql_port" {
  type        = number
  description = "TCP port of PostgreSQL on the database machine; the same as the postgresql role's default."
  default     = 5432

  validation {
    condition     = var.postgresql_port >= 1 && var.postgresql_port <= 65535
    error_message = "postgresql_port must be a TCP port number."
  }
}
