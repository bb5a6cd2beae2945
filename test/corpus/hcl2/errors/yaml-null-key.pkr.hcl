# A YAML mapping key that is null cannot be an object attribute.
source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["echo ${jsonencode(yamldecode("a: 1\n~: 2"))}"]
  }
}
