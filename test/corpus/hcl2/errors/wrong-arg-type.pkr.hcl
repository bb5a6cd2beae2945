locals {
  x = upper(["not", "a", "string"])
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
