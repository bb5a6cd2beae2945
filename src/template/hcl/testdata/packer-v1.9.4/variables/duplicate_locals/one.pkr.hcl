
local "sensible" {
    expression = "something"
}
