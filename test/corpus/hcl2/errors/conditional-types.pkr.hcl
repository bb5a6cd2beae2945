locals {
  x = true ? "a" : ["b"]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
