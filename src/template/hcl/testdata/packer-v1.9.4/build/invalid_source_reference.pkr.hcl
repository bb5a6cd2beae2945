
build {
  sources = ["ami"]
}
