"""Freezing an account after an intrusion (story S5): the one way every actor freezes it."""
