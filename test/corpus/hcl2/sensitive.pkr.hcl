variable "password" {
  type      = string
  default   = "s3cr3t-value"
  sensitive = true
}

locals {
  greeting = "pw is ${var.password}"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${local.greeting}"]
  }
}
