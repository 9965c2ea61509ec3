"""Rules and settings: everything an operator or a tenant can change."""
