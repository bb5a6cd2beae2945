# yamldecode and yamlencode (Packer 1.6.6 has them): a YAML file read into locals that drive
# the build, and YAML written out by the file builder.
locals {
  config = yamldecode(file("data/config.yaml"))
  images = { for i in local.config.images : i.name => i }
  inline = yamldecode(<<-EOT
    a: 1
    b: [x, 'y', "z"]
    c: {d: on, e: off, f: null}
    g: 0x1F
    h: 1_000
    i: 2001-12-14 21:59:43.10
    "<<": {merged: true}
  EOT
  )
}

source "file" "yaml" {
  target = "out/config.yaml"
  content = yamlencode({
    images  = local.images
    motd    = local.config.motd
    version = local.config.version
    empty   = []
    nothing = {}
    long    = join(" ", [for i in range(30) : "word${i}"])
    odd     = ["", " lead", "trail ", "tab\there", "é ü", "- dash", "a: b", "#hash", "multi\nline\n", "\nfirst"]
    numbers = [1, -2.5, 1e21, 0.000001]
  })
}

build {
  sources = ["source.file.yaml"]

  provisioner "shell-local" {
    inline = [
      "echo '${jsonencode(local.config)}'",
      "echo '${jsonencode(local.inline)}'",
      "echo '${local.images.worker.instance_type} ${local.images.web.port} ${local.images.worker.port == null}'",
      "echo '${base64encode(yamlencode(local.inline))}'",
      "echo '${yamlencode(1)}'",
    ]
  }
}
