packer {
    required_plugins {
        amazon = {
            source  = "hashicorp/amazon"
            version = ">= v0"
        }
    }
}