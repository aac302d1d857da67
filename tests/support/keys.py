"""One signing secret for every test: random-looking, so it passes the 32-byte entropy check."""

TEST_SECRET = "uLWQdwMzy1HTC5JGWFW1lyEliRAhUbbx38IfmmXIavDMKxp9fAE5rckWGy2qUd0w"
