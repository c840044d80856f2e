"""Local tooling: the project-owned PostgreSQL, the demo and pipeline runners."""
