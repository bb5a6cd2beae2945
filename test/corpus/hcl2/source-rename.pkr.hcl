source "null" "base" {
  communicator = "none"
}

build {
  source "source.null.base" {
    name = "renamed"
  }

  provisioner "shell-local" {
    inline = ["echo ${source.name}"]
  }

  provisioner "shell-local" {
    only   = ["null.renamed"]
    inline = ["echo only renamed"]
  }

  provisioner "shell-local" {
    except = ["null.renamed"]
    inline = ["echo never"]
  }
}
