data {
    foo = "bar"
}