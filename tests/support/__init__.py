"""Helpers shared by the test modules: real servers in threads, processes, databases."""
