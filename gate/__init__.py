"""The gate of write-audit-publish: checks (dbt tests, Great Expectations suites), the audit record,
promotion of the serving warehouse, and the rules about what blocks what."""
