source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shel-local" {
    inline = ["echo x"]
  }
}
