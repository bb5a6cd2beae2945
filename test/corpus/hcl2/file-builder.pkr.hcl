variable "greeting" {
  default = "hello"
}

source "file" "out" {
  content = "${var.greeting} world\n"
  target  = "out/file.txt"
}

build {
  sources = ["source.file.out"]
}
