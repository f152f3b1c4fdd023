locals {
  # Every machine, keyed by name, with its role; ports, instances and outputs iterate over it.
  machines = merge(
    { "${var.name_prefix}-lb" = "lb" },
    { for index in range(var.web_count) : "${var.name_prefix}-web${index + 1}" => "web" },
    { "${var.name_prefix}-gpu" = "gpu" },
  )

  web_names = [for index in range(var.web_count) : "${var.name_prefix}-web${index + 1}"]
}
