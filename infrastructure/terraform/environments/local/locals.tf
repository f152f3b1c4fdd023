locals {
  gateway_address = cidrhost(var.subnet_cidr, 1)
  acme_address    = cidrhost(var.subnet_cidr, 5)
  # Pebble's listen port is the acme image's (pebble-config.json).
  acme_directory_url = "https://${var.acme_hostname}:14000/dir"

  lb_name   = "${var.name_prefix}-lb"
  db_name   = "${var.name_prefix}-db"
  web_names = [for index in range(var.web_count) : "${var.name_prefix}-web${index + 1}"]
  llm_names = [for index in range(length(var.llm_machines)) : "${var.name_prefix}-llm${index + 1}"]

  # Fixed addresses, so that firewall rules and the inventory never depend on start order:
  # lb .10, llm1..N from .11, db .20, web1..N from .101.
  machines = merge(
    { (local.lb_name) = { role = "lb", address = cidrhost(var.subnet_cidr, 10) } },
    { (local.db_name) = { role = "db", address = cidrhost(var.subnet_cidr, 20) } },
    { for index, name in local.llm_names : name => { role = "llm", address = cidrhost(var.subnet_cidr, 11 + index) } },
    { for index, name in local.web_names : name => { role = "web", address = cidrhost(var.subnet_cidr, 101 + index) } },
  )

  # The host reaches the containers through the bridge, so SSH arrives from its gateway address.
  admin_cidrs = ["${local.gateway_address}/32"]

  # Containers are recreated with fresh host keys on every `up`: pinning them would only break.
  ssh_args = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
}
