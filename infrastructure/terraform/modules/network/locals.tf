locals {
  private_name = "${var.name_prefix}-private"
  router_name  = "${var.name_prefix}-edge"
}
