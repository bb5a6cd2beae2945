variable "size" {
  type    = number
  default = 1

  validation {
    condition     = var.size > 5
    error_message = "The size must be greater than 5."
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
