# The HCL2 form of packer-build.json, written by `kiln hcl2_upgrade packer-build.json` and
# tidied by hand: the source has a name, the inline script one command a line, no unused local.

variable "base_image" {
  type    = string
  default = "debian-12"
}

variable "version" {
  type    = string
  default = "1.0.0"
}

source "qemu" "hello-web" {
  accelerator  = "auto"
  communicator = "ssh"
  cpus         = 2
  headless     = true
  memory       = 1024
  source_image = "${var.base_image}"
  ssh_timeout  = "5m"
  ssh_username = "root"
  vm_name      = "hello-web-build"
}

build {
  description = "hello-web build image: the base image with the hello-web package installed, its unit disabled and its config blank."

  sources = ["source.qemu.hello-web"]

  provisioner "file" {
    destination = "/tmp/hello-web_${var.version}_all.deb"
    source      = "${path.root}/../dist/hello-web_${var.version}_all.deb"
  }
  provisioner "shell" {
    inline = [
      "set -eu",
      "dpkg -i /tmp/hello-web_${var.version}_all.deb",
      "rm -f /tmp/hello-web_${var.version}_all.deb",
      "dpkg-query -W -f='installed $${Package} $${Version}\\n' hello-web",
      "if systemctl is-enabled --quiet hello-web.service; then echo 'hello-web.service is enabled: a build image must leave that to the release step' >&2; exit 1; fi",
      "echo \"hello-web.service is $(systemctl is-enabled hello-web.service || true)\"",
      "if grep -Eq '^[[:space:]]*HELLO_WEB_PORT[[:space:]]*=[[:space:]]*[^[:space:]]' /etc/hello-web/hello-web.env; then echo '/etc/hello-web/hello-web.env sets a port: a build image must ship it blank' >&2; exit 1; fi",
      "echo '--- /etc/hello-web/hello-web.env (blank port = 9999):'",
      "cat /etc/hello-web/hello-web.env",
      "sync",
    ]
  }
}
