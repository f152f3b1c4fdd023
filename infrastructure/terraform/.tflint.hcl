# tflint with its bundled Terraform ruleset, every rule on: naming, documented and typed
# variables and outputs, pinned providers, standard module structure, unused declarations.
plugin "terraform" {
  enabled = true
  preset  = "all"
}
