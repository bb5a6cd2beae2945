locals {
  words  = split(",", "b,a,c")
  sorted = sort(local.words)
  padded = format("%05d", 42)
  merged = merge({ a = 1 }, { b = 2 })
  enc    = base64encode("kiln")
  sha    = sha256("kiln")
  cond   = length(local.words) > 2 ? "many" : "few"
  rng    = [for n in range(3) : n * n]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo ${join("-", local.sorted)} ${local.padded} ${local.enc}",
      "echo ${local.sha}",
      "echo ${local.cond} ${jsonencode(local.merged)} ${jsonencode(local.rng)}",
      "echo ${lower("MiXeD")} ${title("hello world")} ${trimspace("  x  ")} ${replace("a-b-c", "-", "+")}",
    ]
  }
}
