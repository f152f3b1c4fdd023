terraform {
  required_version = ">= 1.11.0"

  # The lifecycle points this at a state folder outside the clone (-backend-config=path=...).
  backend "local" {}

  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = "4.6.0"
    }
  }
}
