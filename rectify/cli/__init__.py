"""The `rectify` command line."""
