locals {
  x = <<EOT
never closed
}

source "null" "a" {
  communicator = "none"
}
