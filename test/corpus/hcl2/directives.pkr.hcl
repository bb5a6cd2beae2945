# Template directives (%{ if } / %{ for } with strip markers) and both heredoc forms.
variable "items" {
  type    = list(string)
  default = ["a", "b", "c"]
}

variable "debug" {
  type    = bool
  default = true
}

locals {
  list_line = "%{for i, x in var.items}${i}=${x}%{if i < length(var.items) - 1},%{endif}%{endfor}"
  mode      = "%{if var.debug}debug%{else}quiet%{endif}"
  script    = <<-EOT
    echo indented heredoc
      %{~ for x in var.items ~}
    echo item ${x}
      %{~ endfor ~}
    EOT
  flush = <<EOT
echo flush heredoc ${local.mode}
EOT
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${local.list_line} ${local.mode}", local.script, local.flush, "echo $${NOT_INTERPOLATED:-literal} %%{not a directive}"]
  }
}
