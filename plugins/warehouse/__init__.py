"""The account-management warehouse: the code the DAGs call."""
