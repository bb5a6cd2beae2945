variable "size" {
  type = number
  validation {
    condition     = var.size < 10
    error_message = "The size must be below 10."
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
