level = "high"
