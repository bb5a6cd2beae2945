# Every expression form: for (list, object, grouping, filter), splats, conditionals,
# index and attribute access, `...` expansion, try/can, operators and precedence.
variable "users" {
  type = list(object({ name = string, admin = bool }))
  default = [
    { name = "ann", admin = true },
    { name = "bob", admin = false },
    { name = "cyd", admin = true },
  ]
}

locals {
  names   = var.users[*].name
  legacy  = var.users.*.admin
  admins  = [for u in var.users : upper(u.name) if u.admin]
  by_name = { for i, u in var.users : u.name => i }
  grouped = { for u in var.users : (u.admin ? "admin" : "user") => u.name... }
  nums    = [3, 1, 2]
  biggest = max(local.nums...)
  math    = 1 + 2 * 3 - 4 / 2 % 3
  logic   = !false && (true || false) && 2 >= 2 && "a" != "b"
  fallback = try(var.users[9].name, "none")
  ok      = can(var.users[0].name)
  nested  = { a = { b = [10, 20, 30] } }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo ${jsonencode(local.names)} ${jsonencode(local.legacy)} ${jsonencode(local.admins)}",
      "echo ${jsonencode(local.by_name)} ${jsonencode(local.grouped)}",
      "echo ${local.biggest} ${local.math} ${local.logic} ${local.fallback} ${local.ok}",
      "echo ${local.nested.a.b[1]} ${local.nested["a"]["b"][2]} ${length(local.nums) > 2 ? "long" : "short"} ${-local.biggest}",
    ]
  }
}
