# A dynamic "post-processors" block: one chain per element, its iterator bound in every
# post-processor of the chain (a dynamic "post-processor" inside one sees it too).
variable "outputs" {
  type    = list(string)
  default = ["one", "two"]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  dynamic "post-processors" {
    for_each = var.outputs
    content {
      post-processor "manifest" {
        output = "pps-${post-processors.value}.json"
      }
      dynamic "post-processor" {
        for_each = ["x", "y"]
        labels   = ["manifest"]
        content {
          output = "pps-${post-processors.value}-${post-processor.value}.json"
        }
      }
      post-processor "manifest" {
        output = "pps-last-${post-processors.key}.json"
      }
    }
  }
}
