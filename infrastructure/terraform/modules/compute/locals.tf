locals {
  web_names = [for index in range(var.web_count) : "${var.name_prefix}-web${index + 1}"]
  llm_names = [for index in range(var.llm_count) : "${var.name_prefix}-llm${index + 1}"]
  db_name   = "${var.name_prefix}-db"

  # Every machine, keyed by name, with its role; ports, instances and outputs iterate over it.
  machines = merge(
    { "${var.name_prefix}-lb" = "lb" },
    { (local.db_name) = "db" },
    { for name in local.web_names : name => "web" },
    { for name in local.llm_names : name => "llm" },
  )
}
