
packer {
    required_plugins {
        amazon = {
            source  = "github.com/hashicorp/amazon"
            version = ">= v0"
        }
        amazon = {
            source  = "github.com/hashicorp/amazon"
            version = ">= v4"
        }
    }
}