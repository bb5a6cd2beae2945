source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    only   = ["null.a"]
    except = ["null.a"]
    inline = ["echo x"]
  }
}
