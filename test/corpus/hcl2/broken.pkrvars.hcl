who = "unterminated
