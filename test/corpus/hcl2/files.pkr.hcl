# Filesystem functions, relative to the folder packer runs in.
locals {
  text = file("data/hello.txt")
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo ${length(split("\n", chomp(local.text)))} lines, first: ${split("\n", local.text)[0]}",
      "echo ${fileexists("data/hello.txt")} ${fileexists("data/none.txt")} ${basename("data/hello.txt")} ${dirname("data/hello.txt")}",
      "echo ${jsonencode(fileset("data", "*.txt"))} ${jsonencode(fileset(".", "data/h*"))}",
    ]
  }
}
