provider "openstack" {
  cloud = var.cloud
}

module "network" {
  source = "../../modules/network"

  name_prefix           = var.name_prefix
  subnet_cidr           = var.subnet_cidr
  external_network_name = var.external_network_name
}

module "security_groups" {
  source = "../../modules/security_groups"

  name_prefix = var.name_prefix
  admin_cidrs = var.admin_cidrs
  ports       = local.topology.ports
}

module "compute" {
  source = "../../modules/compute"

  name_prefix           = var.name_prefix
  image_name            = var.image_name
  flavors               = { lb = var.lb_flavor, web = var.web_flavor, llm = var.llm_flavor, db = var.db_flavor }
  web_count             = var.web_count
  llm_count             = var.llm_count
  ssh_public_key_file   = var.ssh_public_key_file
  network_id            = module.network.network_id
  subnet_id             = module.network.subnet_id
  security_group_ids    = module.security_groups.ids
  external_network_name = module.network.external_network_name
  router_interface_id   = module.network.router_interface_id
}

module "inventory" {
  source = "../../modules/inventory"

  environment          = "openstack"
  ssh_private_key_file = pathexpand(var.ssh_private_key_file)
  public_hostname      = var.public_hostname
  acme_directory_url   = var.acme_directory_url
  acme_ca_bundle_file  = ""
  admin_cidrs          = var.admin_cidrs

  lb = {
    name            = module.compute.lb.name
    ansible_host    = module.compute.lb.public_address
    private_address = module.compute.lb.private_address
    ssh_args        = "-o StrictHostKeyChecking=accept-new"
  }
  db = {
    name            = module.compute.db.name
    ansible_host    = module.compute.db.private_address
    private_address = module.compute.db.private_address
    ssh_args        = local.jump
  }
  web = [for machine in module.compute.web : {
    name            = machine.name
    ansible_host    = machine.private_address
    private_address = machine.private_address
    ssh_args        = local.jump
  }]
  llm = [for machine in module.compute.llm : {
    name            = machine.name
    ansible_host    = machine.private_address
    private_address = machine.private_address
    ssh_args        = local.jump
  }]
}
