variable "n" {
  type    = number
  default = "not a number"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
