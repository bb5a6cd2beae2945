# IP network and date/time functions, on fixed inputs.
locals {
  t = "2020-02-29T23:04:05Z"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo ${cidrhost("10.12.0.0/16", 5)} ${cidrhost("fd00:fd12:3456:7890::/56", 16)} ${cidrnetmask("172.16.0.0/12")}",
      "echo ${cidrsubnet("10.1.0.0/16", 8, 2)} ${jsonencode(cidrsubnets("10.1.0.0/16", 4, 4, 8, 4))}",
      "echo ${formatdate("DD MMM YYYY hh:mm ZZZ", local.t)} ${formatdate("EEEE, h:mmaa", local.t)} ${formatdate("'quoted' YY-M-D", local.t)}",
      "echo ${timeadd(local.t, "25h30m")} ${timeadd(local.t, "-1s")}",
    ]
  }
}
