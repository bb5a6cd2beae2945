foo = "wee"
