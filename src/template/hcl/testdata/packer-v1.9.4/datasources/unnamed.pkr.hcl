data "amazon-ami" {
    foo = "bar"
}