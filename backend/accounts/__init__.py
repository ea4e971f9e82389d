"""Accounts: who may do what. Users with a role, hashed passwords, API tokens, sign-in sessions."""
