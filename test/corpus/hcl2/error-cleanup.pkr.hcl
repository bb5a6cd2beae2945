source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo failing", "exit 3"]
  }

  error-cleanup-provisioner "shell-local" {
    inline = ["echo cleaning up"]
  }
}
