locals {
  roles = ["lb", "web", "llm", "db"]

  # Ollama's own port appears nowhere below: it listens on loopback and no group admits it.
  world_rules = merge([for port in [var.ports.http, var.ports.https] : {
    "lb-${port}-ipv4" = { group = "lb", port = port, ethertype = "IPv4", remote_ip_prefix = "0.0.0.0/0" }
    "lb-${port}-ipv6" = { group = "lb", port = port, ethertype = "IPv6", remote_ip_prefix = "::/0" }
  }]...)

  ssh_rules = merge([for role in local.roles : {
    for cidr in var.admin_cidrs : "${role}-ssh-${cidr}" => {
      group            = role
      port             = var.ports.ssh
      ethertype        = strcontains(cidr, ":") ? "IPv6" : "IPv4"
      remote_ip_prefix = cidr
    }
  }]...)

  cidr_rules = merge(local.world_rules, local.ssh_rules)

  # Rules whose source is another group rather than an address range.
  group_rules = {
    "web-app-from-lb"        = { group = "web", port = var.ports.web_app, from = "lb" }
    "llm-gateway-from-web"   = { group = "llm", port = var.ports.llm_gateway, from = "web" }
    "db-postgresql-from-web" = { group = "db", port = var.ports.postgresql, from = "web" }
  }
}
