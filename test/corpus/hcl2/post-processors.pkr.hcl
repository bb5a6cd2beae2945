source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }

  post-processors {
    post-processor "manifest" {
      name   = "second"
      output = "second.json"
    }
    post-processor "checksum" {
      checksum_types = ["md5"]
      output         = "sums.{{.ChecksumType}}"
    }
  }
}
