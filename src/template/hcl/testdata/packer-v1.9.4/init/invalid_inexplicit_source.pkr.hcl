packer {
    required_plugins {
        amazon = {
            source  = "amazon"
            version = ">= v0"
        }
    }
}