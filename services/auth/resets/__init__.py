"""Password resets (story S5): a mailed single-use code, the cool-down after a freeze, the re-check list."""
