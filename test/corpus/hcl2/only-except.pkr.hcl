# only/except on provisioners and post-processors, with two sources.
source "null" "a" {
  communicator = "none"
}

source "null" "b" {
  communicator = "none"
}

build {
  sources = ["source.null.a", "source.null.b"]

  provisioner "shell-local" {
    only   = ["null.a"]
    inline = ["echo only on a"]
  }

  provisioner "shell-local" {
    except = ["null.a"]
    inline = ["echo not on a"]
  }

  post-processor "manifest" {
    only   = ["null.b"]
    output = "only-b.json"
  }
}
