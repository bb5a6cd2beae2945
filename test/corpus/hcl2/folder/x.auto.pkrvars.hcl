who = "auto-file"
