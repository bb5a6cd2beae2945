build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo who=${var.who} level=${var.level}"]
  }
}
