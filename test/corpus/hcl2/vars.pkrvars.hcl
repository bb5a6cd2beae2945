who   = "var-file"
level = 7
