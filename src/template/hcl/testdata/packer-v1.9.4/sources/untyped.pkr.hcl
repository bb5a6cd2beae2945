// a source represents a reusable setting for a system boot/start.
source {
    foo = "bar"
}