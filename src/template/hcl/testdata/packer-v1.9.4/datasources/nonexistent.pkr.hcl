data "nonexistent" "test" {
    foo = "bar"
}