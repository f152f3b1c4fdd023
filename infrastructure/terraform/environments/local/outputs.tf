output "addresses" {
  description = "Address per machine and role; the host reaches every one of them directly."
  value = {
    lb   = local.machines[local.lb_name].address
    web  = [for name in local.web_names : local.machines[name].address]
    llm  = [for name in local.llm_names : local.machines[name].address]
    db   = local.machines[local.db_name].address
    acme = local.acme_address
  }
}

output "public_url" {
  description = "URL of the site; resolve public_hostname to the load balancer's address to open it."
  value       = "https://${var.public_hostname}/"
}

output "acme_directory_url" {
  description = "ACME directory of the local Pebble, the topology's stand-in for Let's Encrypt."
  value       = local.acme_directory_url
}

output "container_names" {
  description = "Names of every container this topology runs, for waiting on them and for teardown checks."
  value       = concat(keys(local.machines), [docker_container.acme.name])
}

output "ansible_inventory" {
  description = "Ansible inventory (YAML): groups lb, web, llm, db and the variables the roles need."
  value       = module.inventory.yaml
}
