"""The regional report and the school cards, rendered from the serving warehouse (issue 11)."""
