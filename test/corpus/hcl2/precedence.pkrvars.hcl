who = "second-var-file"
