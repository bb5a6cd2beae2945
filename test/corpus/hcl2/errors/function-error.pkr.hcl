locals {
  n = parseint("abc", 10)
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
