# String functions Packer 1.6.6 has.
source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo [${chomp("x\n")}] [${substr("hello", 1, 3)}] [${strrev("abc")}] [${trimprefix("foobar", "foo")}] [${trimsuffix("foobar", "bar")}]",
      "echo [${trim("xxaxx", "x")}] [${join(",", formatlist("%s!", ["a", "b"]))}] [${join("+", split(",", "a,b,,c"))}] [${upper("up")}]",
      "echo [${format("%-5s:%5.2f:%x:%v", "ab", 3.14159, 255, "q")}] [${regex_replace("abc123", "[0-9]+", "N")}] [${replace("a.b.c", "/[.]/", "_")}]",
      "echo '[${indent(2, "a\nb")}]' [${title("hello kiln world")}] [${lower("MiXeD")}] [${trimspace("  sp  ")}]",
    ]
  }
}
