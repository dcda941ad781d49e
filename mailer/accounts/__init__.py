"""Staff accounts: users with roles, sessions, API tokens and the audit log."""
