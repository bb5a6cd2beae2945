source "null" "a" {
  communicator = "none"
}

source "null" "b" {
  communicator = "none"
}

build {
  name    = "one"
  sources = ["source.null.a"]
}

build {
  name    = "two"
  sources = ["source.null.b"]

  post-processor "manifest" {
    output = "two.json"
  }
}
