variable "home" {
  default = env("KILN_HCL_TEST_VALUE")
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo value=${var.home}"]
  }
}
