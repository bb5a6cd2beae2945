# yamldecode of text that is not YAML: the call is named, with the place in the YAML.
locals {
  settings = yamldecode("name: web\nports: [80, 443\n")
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["echo ${local.settings.name}"]
  }
}
