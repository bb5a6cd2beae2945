source "null" "a" {
  communicator = "none"
  comunicator  = "ssh"
}

build {
  sources = ["source.null.a"]
}
