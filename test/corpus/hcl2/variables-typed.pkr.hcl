variable "name" {
  type        = string
  default     = "web"
  description = "the image name"
}

variable "count" {
  type    = number
  default = 3
}

variable "enabled" {
  type    = bool
  default = true
}

variable "tags" {
  type    = map(string)
  default = { team = "ops", env = "dev" }
}

variable "packages" {
  type    = list(string)
  default = ["curl", "jq"]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo name=${var.name} count=${var.count} enabled=${var.enabled}",
      "echo tags=${join(",", [for k, v in var.tags : "${k}:${v}"])}",
      "echo packages=${join(" ", var.packages)} n=${length(var.packages)}",
    ]
  }
}
