# Collection and number functions Packer 1.6.6 has.
locals {
  m = { b = 2, a = 1 }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo ${jsonencode(keys(local.m))} ${jsonencode(values(local.m))} ${lookup(local.m, "c", 9)} ${element(["x", "y"], 3)}",
      "echo ${jsonencode(flatten([[1], [2, [3]]]))} ${jsonencode(distinct([1, 1, 2]))} ${contains(["a"], "a")} ${jsonencode(concat([1], [2]))}",
      "echo ${jsonencode(zipmap(["k1", "k2"], [1, 2]))} ${coalesce("", "b")} ${jsonencode(compact(["a", "", "b"]))} ${jsonencode(chunklist([1, 2, 3], 2))}",
      "echo ${jsonencode(setunion(["a"], ["b"]))} ${jsonencode(slice([1, 2, 3], 1, 2))} ${jsonencode(reverse([1, 2]))}",
      "echo ${jsonencode(coalescelist([], [1]))} ${jsonencode(setproduct(["a"], [1, 2]))} ${jsonencode(setintersection([1, 2], [2]))}",
      "echo ${max(1, 5, 3)} ${min(4, 2)} ${abs(-3)} ${ceil(1.2)} ${floor(1.8)} ${pow(2, 10)} ${log(16, 2)} ${signum(-7)} ${parseint("ff", 16)}",
      "echo ${jsonencode(merge({ x = 1 }, { y = 2 }))} ${length("héllo")} ${jsonencode(range(1, 8, 3))} ${jsonencode(sort(["b", "a", "c"]))}",
    ]
  }
}
