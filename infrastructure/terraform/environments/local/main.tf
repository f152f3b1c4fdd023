provider "docker" {}

resource "docker_network" "topology" {
  name = "${var.name_prefix}-net"

  ipam_config {
    subnet  = var.subnet_cidr
    gateway = local.gateway_address
  }
}

# Containers that behave like cloud VMs: systemd as PID 1, sshd, the debian user with our key.
# The settings are those systemd needs without --privileged, which this kind of host refuses.
resource "docker_container" "machine" {
  for_each = local.machines

  name          = each.key
  hostname      = each.key
  image         = var.vm_image
  command       = ["/lib/systemd/systemd"]
  cgroupns_mode = "host"
  stop_signal   = "SIGRTMIN+3"
  security_opts = ["seccomp=unconfined", "apparmor=unconfined"]
  tmpfs         = { "/run" = "", "/run/lock" = "" }
  must_run      = true

  # Named as Docker reports them back (CAP_ prefix): any other spelling differs from the state on
  # every plan, and the provider replaces every machine at each `make up`.
  capabilities {
    add  = ["ALL"]
    drop = ["CAP_SYS_RESOURCE"]
  }

  volumes {
    host_path      = "/sys/fs/cgroup"
    container_path = "/sys/fs/cgroup"
    read_only      = false
  }

  networks_advanced {
    name         = docker_network.topology.id
    ipv4_address = each.value.address
  }

  # certbot on the load balancer reaches the ACME server by name, as it would Let's Encrypt.
  host {
    host = var.acme_hostname
    ip   = local.acme_address
  }

  upload {
    file        = "/home/debian/.ssh/authorized_keys"
    content     = file(pathexpand(var.ssh_public_key_file))
    permissions = "0644"
  }

  labels {
    label = "ollama-qa.topology"
    value = var.name_prefix
  }

  labels {
    label = "ollama-qa.role"
    value = each.value.role
  }
}

resource "docker_container" "acme" {
  name     = "${var.name_prefix}-acme"
  hostname = var.acme_hostname
  image    = var.acme_image
  env      = ["ACME_LB_ADDRESS=${local.machines[local.lb_name].address}"]
  must_run = true

  networks_advanced {
    name         = docker_network.topology.id
    ipv4_address = local.acme_address
    aliases      = [var.acme_hostname]
  }

  volumes {
    host_path      = var.acme_certificate_file
    container_path = "/etc/pebble/certs/cert.pem"
    read_only      = true
  }

  volumes {
    host_path      = var.acme_private_key_file
    container_path = "/etc/pebble/certs/key.pem"
    read_only      = true
  }

  labels {
    label = "ollama-qa.topology"
    value = var.name_prefix
  }
}

module "inventory" {
  source = "../../modules/inventory"

  environment          = "local"
  ssh_private_key_file = pathexpand(var.ssh_private_key_file)
  public_hostname      = var.public_hostname
  acme_directory_url   = local.acme_directory_url
  acme_ca_bundle_file  = pathexpand(var.acme_ca_file)
  admin_cidrs          = local.admin_cidrs

  lb = {
    name            = local.lb_name
    ansible_host    = local.machines[local.lb_name].address
    private_address = local.machines[local.lb_name].address
    ssh_args        = local.ssh_args
  }
  db = {
    name            = local.db_name
    ansible_host    = local.machines[local.db_name].address
    private_address = local.machines[local.db_name].address
    ssh_args        = local.ssh_args
  }
  web = [for name in local.web_names : {
    name            = name
    ansible_host    = local.machines[name].address
    private_address = local.machines[name].address
    ssh_args        = local.ssh_args
  }]
  llm = [for index, name in local.llm_names : {
    name            = name
    ansible_host    = local.machines[name].address
    private_address = local.machines[name].address
    ssh_args        = local.ssh_args
    host_vars       = { ollama_install_method = var.llm_machines[index].install_method }
  }]
}
