# Null attributes and elements as packer inspect prints them (attributes left out).
locals {
  a = { x = null, y = 1 }
  b = [1, null, "s"]
  c = null
  d = { e = { f = null } }
  f = [{ g = null }]
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
}
