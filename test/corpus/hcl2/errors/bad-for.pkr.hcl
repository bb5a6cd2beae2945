locals {
  x = [for i in [1, 2] i * 2]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
