"""Declarative input contracts: one YAML file per source, loaded by :mod:`ingestion.contract`."""
