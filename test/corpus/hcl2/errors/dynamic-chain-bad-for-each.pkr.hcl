# for_each of a dynamic post-processor inside a chain must be a collection.
source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
  post-processors {
    dynamic "post-processor" {
      for_each = 5
      labels   = ["manifest"]
      content {
        output = "x.json"
      }
    }
  }
}
