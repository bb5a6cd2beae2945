packer {
    required_plugins {
        amazon = ">= v0"
    }
}