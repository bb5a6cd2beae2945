# Encoding and hash functions Packer 1.6.6 has.
source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo ${base64decode("a2lsbg==")} ${base64encode("kiln")} ${jsondecode("{\"a\":[1,2]}").a[1]} ${urlencode("a b&c")}",
      "echo ${md5("kiln")} ${sha1("kiln")}",
      "echo ${sha512("kiln")}",
      "echo ${uuidv5("dns", "kiln.example")} ${uuidv5("url", "https://kiln.example/")}",
      "echo ${jsonencode(csvdecode("a,b\n1,2\n3,4"))}",
    ]
  }
}
