output "yaml" {
  description = "Ansible inventory (YAML) with groups lb, web, llm and db and the variables the roles need."
  value       = yamlencode(local.inventory)
}

output "data" {
  description = "The same inventory as an object, for tests and for other outputs."
  value       = local.inventory
}
