
variable "broken_variable" {
    invalid = true
    default = true
}
