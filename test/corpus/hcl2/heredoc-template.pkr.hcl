variable "user" {
  default = "admin"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [<<-EOT
      echo line one for ${var.user}
      echo %{ for i in [1, 2] }n${i} %{ endfor }
    EOT
    ]
  }
}
