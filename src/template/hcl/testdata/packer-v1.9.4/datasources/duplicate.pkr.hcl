data "amazon-ami" "test" {}
data "amazon-ami" "test" {}
