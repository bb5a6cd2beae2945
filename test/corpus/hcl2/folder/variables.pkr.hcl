variable "who" {
  type    = string
  default = "default"
}

variable "level" {
  type    = number
  default = 1
}
