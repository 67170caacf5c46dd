"""The floor of the house: what every stage uses (settings, durable file writes)."""
