# A dynamic block makes one provisioner per element, with an iterator name.
variable "greetings" {
  type    = map(string)
  default = { en = "hello", fr = "bonjour" }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  dynamic "provisioner" {
    for_each = var.greetings
    labels   = ["shell-local"]
    iterator = g
    content {
      inline = ["echo ${g.key}: ${g.value}"]
    }
  }

  provisioner "shell-local" {
    inline = ["echo after"]
  }
}
