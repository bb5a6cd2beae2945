locals {
  l = ["a", "b"]
  x = local.l[5]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
