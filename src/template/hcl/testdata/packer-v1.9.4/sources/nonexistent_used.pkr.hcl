// a source represents a reusable setting for a system boot/start.
source "nonexistent" "ubuntu-1204" {
    foo = "bar"
}

build {
    sources = ["nonexistent.ubuntu-1204"]
}
