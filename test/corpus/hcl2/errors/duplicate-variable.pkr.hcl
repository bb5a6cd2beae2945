variable "a" {
  default = "1"
}

variable "a" {
  default = "2"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
