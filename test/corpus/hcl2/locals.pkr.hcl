variable "env" {
  default = "dev"
}

locals {
  prefix = "app-${var.env}"
  full   = "${local.prefix}-${local.suffix}"
  suffix = upper(var.env)
  items  = { for i, s in ["a", "b", "c"] : s => i * 2 }
  total  = length(values(local.items)) + max(values(local.items)...)
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${local.full} ${local.total} ${jsonencode(local.items)}"]
  }
}
