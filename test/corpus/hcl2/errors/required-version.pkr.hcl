packer {
  required_version = ">= 9.0.0"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
