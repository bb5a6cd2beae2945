source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    pause_before = "10ms"
    max_retries  = 2
    timeout      = "30s"
    inline       = ["echo meta"]
  }

  provisioner "shell-local" {
    inline = ["echo base"]
    override = {
      a = {
        inline = ["echo overridden for a"]
      }
    }
  }
}
