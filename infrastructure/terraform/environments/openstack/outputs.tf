output "addresses" {
  description = "Addresses per role: public and private for lb, private for web, llm and db."
  value = {
    lb  = module.compute.lb
    web = module.compute.web
    llm = module.compute.llm
    db  = module.compute.db
  }
}

output "public_url" {
  description = "URL of the site once DNS points public_hostname at the load balancer."
  value       = "https://${var.public_hostname}/"
}

output "lb_public_address" {
  description = "Floating IP to put in the DNS A record of public_hostname."
  value       = module.compute.lb.public_address
}

output "ansible_inventory" {
  description = "Ansible inventory (YAML): groups lb, web, llm, db and the variables the roles need."
  value       = module.inventory.yaml
}
