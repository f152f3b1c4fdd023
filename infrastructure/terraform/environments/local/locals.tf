locals {
  gateway_address = cidrhost(var.subnet_cidr, 1)
  acme_address    = cidrhost(var.subnet_cidr, 5)

  # Fixed addresses, so that firewall rules and the inventory never depend on start order.
  machines = merge(
    { "${var.name_prefix}-lb" = { role = "lb", address = cidrhost(var.subnet_cidr, 10) } },
    { "${var.name_prefix}-gpu" = { role = "llm", address = cidrhost(var.subnet_cidr, 11) } },
    { for index in range(var.web_count) : "${var.name_prefix}-web${index + 1}" => {
      role    = "web"
      address = cidrhost(var.subnet_cidr, 101 + index)
    } },
  )

  lb_name   = "${var.name_prefix}-lb"
  web_names = [for index in range(var.web_count) : "${var.name_prefix}-web${index + 1}"]
  gpu_name  = "${var.name_prefix}-gpu"

  # The host reaches the containers through the bridge, so SSH arrives from its gateway address.
  admin_cidrs = ["${local.gateway_address}/32"]

  # Containers are recreated with fresh host keys on every `up`: pinning them would only break.
  ssh_args = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
}
