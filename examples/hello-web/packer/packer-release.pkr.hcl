# The HCL2 form of packer-release.json, written by `kiln hcl2_upgrade packer-release.json` and
# tidied by hand: the source has a name, long lists one item a line, no unused local.

variable "environment" {
  type    = string
  default = "dev"
}

variable "http_port" {
  type    = string
  default = "8080"
}

variable "source_image" {
  type = string
}

source "qemu" "hello-web" {
  accelerator  = "auto"
  communicator = "ssh"
  cpus         = 2
  headless     = true
  memory       = 1024
  source_image = "${var.source_image}"
  ssh_timeout  = "5m"
  ssh_username = "root"
  vm_name      = "hello-web-${var.environment}"
}

build {
  description = "hello-web release image: a build image configured for one environment, hello-web.service enabled at boot."

  sources = ["source.qemu.hello-web"]

  provisioner "ansible" {
    ansible_env_vars = ["ANSIBLE_PIPELINING=True", "ANSIBLE_NOCOLOR=True"]
    extra_arguments = [
      "--extra-vars",
      "hello_web_port=${var.http_port} hello_web_environment=${var.environment} hello_web_restart=false ansible_python_interpreter=/usr/bin/python3",
    ]
    playbook_file = "${path.root}/release.yml"
    use_proxy     = false
    user          = "root"
  }
}
