source "null" "first" {
  communicator = "none"
}

build {
  name        = "release"
  description = "the release build"
  sources     = ["source.null.first"]

  provisioner "shell-local" {
    inline = ["echo in ${source.name}"]
  }
}
