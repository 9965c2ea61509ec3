"""Event and state contracts: the single source of truth for every topic."""
