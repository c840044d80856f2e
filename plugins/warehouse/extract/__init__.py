"""One module per source: crm (HTTP API), billing (PostgreSQL), finance (tables or CSV files)."""
