"""Constructs of the users API stack, one per capability."""
