"""Promotion of the audited warehouse and publication of the official lists (plain Python)."""
