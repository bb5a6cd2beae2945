build {
  name = "bucket-slug"
  hcp_packer_registry {
    labels = ""
  }
}
