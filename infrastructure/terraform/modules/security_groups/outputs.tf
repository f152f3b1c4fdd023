output "ids" {
  description = "Security group ID per role (lb, web, llm, db)."
  value       = { for role, group in openstack_networking_secgroup_v2.role : role => group.id }
}
