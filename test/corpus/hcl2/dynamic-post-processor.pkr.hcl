# A dynamic post-processor: one chain of one per element, as Packer 1.6.6 expands it.
variable "outputs" {
  type    = list(string)
  default = ["one", "two"]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  dynamic "post-processor" {
    for_each = var.outputs
    labels   = ["manifest"]
    content {
      output = "m-${post-processor.value}.json"
    }
  }
}
