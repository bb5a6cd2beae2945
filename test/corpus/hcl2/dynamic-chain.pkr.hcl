# A dynamic post-processor inside a post-processors chain: expanded in place, in the chain.
variable "outputs" {
  type    = list(string)
  default = ["one", "two"]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  post-processors {
    post-processor "manifest" {
      output = "first.json"
    }
    dynamic "post-processor" {
      for_each = var.outputs
      iterator = out
      labels   = ["manifest"]
      content {
        output = "chain-${out.value}-${out.key}.json"
      }
    }
    post-processor "manifest" {
      output = "last.json"
    }
  }
}
